using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Optim;

/// <summary>Gradient clipping.</summary>
public static class GradientClipping
{
    /// <summary>
    /// The global L2 norm of the gradients of the trainable parameters that have one (accumulated in double). If it
    /// exceeds <paramref name="maxNorm"/> every gradient is scaled by maxNorm / (norm + 1e−6) (as PyTorch). Returns the
    /// norm before clipping; a NaN or infinite norm is returned with the gradients left untouched, so the caller can
    /// report the divergence.
    /// </summary>
    public static double ClipGlobalNorm<T>(IEnumerable<Parameter<T>> parameters, double maxNorm) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive");
        var list = parameters as IReadOnlyList<Parameter<T>> ?? parameters.ToList(); // an optimizer's list: nothing allocated
        double sq = 0;
        for (int i = 0; i < list.Count; i++)
            if (Gradient(list[i]) is { } g) sq += Reductions.Dot(g.ReadOnlySpan, g.ReadOnlySpan);
        double norm = Math.Sqrt(sq);
        if (!double.IsFinite(norm)) return norm;
        if (norm > maxNorm)
        {
            T scale = T.CreateTruncating(maxNorm / (norm + 1e-6));
            for (int i = 0; i < list.Count; i++)
                if (Gradient(list[i]) is { } g) Elementwise.ScaleShift(g.ReadOnlySpan, scale, T.Zero, g.Span);
        }
        return norm;
    }

    /// <summary>The gradient of a trainable parameter that has one, else null.</summary>
    private static Tensors.Tensor<T>? Gradient<T>(Parameter<T> p) where T : unmanaged, IFloatingPointIeee754<T>
        => p.Trainable && p.Grad is { IsDisposed: false } g ? g : null;
}
