using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Distributions;

/// <summary>A normal with learnable mean and log standard deviation per feature (diagonal covariance).</summary>
public sealed class DiagonalNormal<T> : Distribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates N(0, I) with learnable mean ("mean") and log standard deviation ("log_std").</summary>
    public DiagonalNormal(int features) : base(features)
    {
        Mean = RegisterParameter("mean", new Parameter<T>(Tensor<T>.Zeros(features)));
        LogStd = RegisterParameter("log_std", new Parameter<T>(Tensor<T>.Zeros(features)));
    }

    /// <summary>Mean per feature [d].</summary>
    public Parameter<T> Mean { get; }

    /// <summary>Log standard deviation per feature [d].</summary>
    public Parameter<T> LogStd { get; }

    /// <inheritdoc/>
    public override Var<T> LogProb(Var<T> x, Var<T>? context = null)
    {
        CheckInput(x, null);
        return GaussianLogProb(x, Mean, LogStd);
    }

    /// <summary>Σ_j −½((x − μ)/σ)² − log σ − ½ ln 2π per row, for μ and log σ given per feature ([d]) or per row ([N, d]).</summary>
    internal static Var<T> GaussianLogProb(Var<T> x, Var<T> mean, Var<T> logStd)
    {
        var z = Ops.Mul(Ops.Sub(x, mean), Ops.Exp(Ops.Neg(logStd)));
        var perFeature = Ops.Sub(Ops.ScaleShift(Ops.Square(z), -0.5, -0.5 * Log2Pi), logStd);
        return Ops.SumRows(perFeature);
    }

    /// <inheritdoc/>
    public override Var<T> Sample(int n, Rng rng, Var<T>? context = null)
    {
        CheckCount(n);
        var eps = new Var<T>(rng.Normal<T>(n, Features));
        return Ops.Add(Ops.Mul(eps, Ops.Exp(LogStd)), Mean);
    }
}
