using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>
/// Batch normalisation of [N, C] activations as a network layer (PyTorch's BatchNorm1d). Training: normalise with
/// the batch mean and biased variance, and update the running mean and (unbiased) variance with
/// r ← (1 − momentum)·r + momentum·batch (also under <see cref="GradMode.Disable"/>, as PyTorch). Evaluation: normalise with the running statistics. Then y = γ·x̂ + β.
/// One fused op with analytic backward. Buffers: running_mean, running_var, num_batches_tracked.
/// </summary>
public sealed class BatchNorm1d<T> : Module<T>, ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    protected override bool TreatsRowsIndependently => !Training; // batch statistics couple the rows

    /// <summary>Creates the layer for <paramref name="features"/> channels (γ = 1, β = 0, running mean 0, variance 1).</summary>
    public BatchNorm1d(int features, double momentum = 0.1, double eps = 1e-5, bool affine = true)
    {
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), features, "BatchNorm1d needs at least one feature");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must lie in [0, 1]");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be positive");
        Features = features;
        Momentum = momentum;
        Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", new Parameter<T>(Tensor<T>.Full(T.One, features)));
            Bias = RegisterParameter("bias", new Parameter<T>(Tensor<T>.Zeros(features)));
        }
        RunningMean = RegisterBuffer("running_mean", Tensor<T>.Zeros(features));
        RunningVar = RegisterBuffer("running_var", Tensor<T>.Full(T.One, features));
        BatchesTracked = RegisterBuffer("num_batches_tracked", Tensor<T>.Scalar(T.Zero));
    }

    /// <summary>Number of channels.</summary>
    public int Features { get; }

    /// <summary>Weight of the newest batch in the running statistics.</summary>
    public double Momentum { get; }

    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }

    /// <summary>Scale γ [C], or null without affine parameters.</summary>
    public Parameter<T>? Weight { get; }

    /// <summary>Shift β [C], or null without affine parameters.</summary>
    public Parameter<T>? Bias { get; }

    /// <summary>Running mean [C] (buffer).</summary>
    public Tensor<T> RunningMean { get; }

    /// <summary>Running unbiased variance [C] (buffer).</summary>
    public Tensor<T> RunningVar { get; }

    /// <summary>Number of training batches seen (rank-0 buffer).</summary>
    public Tensor<T> BatchesTracked { get; }

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> x)
    {
        var xv = x.Value;
        if (xv.Rank != 2 || xv.Dim(1) != Features)
            throw new ArgumentException($"BatchNorm1d: input must be [batch, {Features}], got {xv.ShapeString}");
        int n = xv.Dim(0), c = Features;
        var xs = xv.ReadOnlySpan;
        var shift = Tensor<T>.Empty(c);   // the mean used
        var invStd = Tensor<T>.Empty(c);  // 1/√(var + eps) used
        bool batchStats = Training;
        if (batchStats)
        {
            if (n < 2) throw new ArgumentException($"BatchNorm1d in training needs more than one row per batch, got {n}");
            var mean = new double[c];
            var m2 = new double[c];
            for (int r = 0; r < n; r++)
            {
                var row = xs.Slice(r * c, c);
                for (int j = 0; j < c; j++) mean[j] += double.CreateTruncating(row[j]);
            }
            for (int j = 0; j < c; j++) mean[j] /= n;
            for (int r = 0; r < n; r++)
            {
                var row = xs.Slice(r * c, c);
                for (int j = 0; j < c; j++) { double d = double.CreateTruncating(row[j]) - mean[j]; m2[j] += d * d; }
            }
            var rm = RunningMean.Span; var rv = RunningVar.Span;
            T mom = T.CreateTruncating(Momentum), keep = T.CreateTruncating(1 - Momentum);
            for (int j = 0; j < c; j++)
            {
                double var = m2[j] / n;
                shift[j] = T.CreateTruncating(mean[j]);
                invStd[j] = T.CreateTruncating(1.0 / Math.Sqrt(var + Eps));
                rm[j] = keep * rm[j] + mom * T.CreateTruncating(mean[j]);
                rv[j] = keep * rv[j] + mom * T.CreateTruncating(m2[j] / (n - 1));
            }
            BatchesTracked[0] += T.One;
        }
        else
        {
            RunningMean.ReadOnlySpan.CopyTo(shift.Span);
            var rv = RunningVar.ReadOnlySpan;
            for (int j = 0; j < c; j++) invStd[j] = T.CreateTruncating(1.0 / Math.Sqrt(double.CreateTruncating(rv[j]) + Eps));
        }
        return Normalize(x, shift, invStd, Weight, Bias, batchStats);
    }

    /// <summary>
    /// The fused op: x̂ = (x − shift)·invStd per column, y = γ·x̂ + β. With <paramref name="batchStatistics"/> the
    /// shift and invStd are taken to be the batch mean and 1/√(biased var + eps) of x itself, and the backward
    /// differentiates through them: dx = γ·invStd/N·(N·dy − Σdy − x̂·Σ(dy·x̂)); otherwise they are constants and
    /// dx = γ·invStd·dy. dγ = Σ dy·x̂, dβ = Σ dy.
    /// </summary>
    public static Var<T> Normalize(Var<T> x, Tensor<T> shift, Tensor<T> invStd, Var<T>? weight, Var<T>? bias, bool batchStatistics)
    {
        var xv = x.Value;
        int n = xv.Dim(0), c = xv.Dim(1);
        var xhat = Tensor<T>.EmptyLike(xv);
        var y = Tensor<T>.EmptyLike(xv);
        var xs = xv.ReadOnlySpan; var hs = xhat.Span; var ys = y.Span;
        var mu = shift.ReadOnlySpan; var inv = invStd.ReadOnlySpan;
        ReadOnlySpan<T> g = weight is null ? default : weight.Value.ReadOnlySpan;
        ReadOnlySpan<T> b = bias is null ? default : bias.Value.ReadOnlySpan;
        for (int r = 0; r < n; r++)
        {
            int o = r * c;
            for (int j = 0; j < c; j++)
            {
                T h = (xs[o + j] - mu[j]) * inv[j];
                hs[o + j] = h;
                ys[o + j] = (weight is null ? h : g[j] * h) + (bias is null ? T.Zero : b[j]);
            }
        }
        bool rec = GradMode.IsEnabled && (x.RequiresGrad || (weight?.RequiresGrad ?? false) || (bias?.RequiresGrad ?? false));
        if (!rec)
        {
            xhat.Dispose();
            return new Var<T>(y);
        }
        var inputs = new List<Var<T>>(3) { x };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        return new Var<T>(y, inputs.ToArray(), o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var hs = xhat.ReadOnlySpan;
            var sumG = new double[c];
            var sumGH = new double[c];
            for (int r = 0; r < n; r++)
            {
                int off = r * c;
                for (int j = 0; j < c; j++)
                {
                    double gv = double.CreateTruncating(gy[off + j]);
                    sumG[j] += gv;
                    sumGH[j] += gv * double.CreateTruncating(hs[off + j]);
                }
            }
            if (weight is not null && weight.RequiresGrad)
            {
                var gw = weight.GradBuffer().Span;
                for (int j = 0; j < c; j++) gw[j] += T.CreateTruncating(sumGH[j]);
            }
            if (bias is not null && bias.RequiresGrad)
            {
                var gb = bias.GradBuffer().Span;
                for (int j = 0; j < c; j++) gb[j] += T.CreateTruncating(sumG[j]);
            }
            if (!x.RequiresGrad) return;
            var gx = x.GradBuffer().Span;
            var inv = invStd.ReadOnlySpan;
            ReadOnlySpan<T> gam = weight is null ? default : weight.Value.ReadOnlySpan;
            Span<T> scale = c <= 256 ? stackalloc T[c] : new T[c];
            Span<T> meanG = c <= 256 ? stackalloc T[c] : new T[c];
            Span<T> meanGH = c <= 256 ? stackalloc T[c] : new T[c];
            for (int j = 0; j < c; j++)
            {
                scale[j] = (weight is null ? T.One : gam[j]) * inv[j];
                meanG[j] = batchStatistics ? T.CreateTruncating(sumG[j] / n) : T.Zero;
                meanGH[j] = batchStatistics ? T.CreateTruncating(sumGH[j] / n) : T.Zero;
            }
            for (int r = 0; r < n; r++)
            {
                int off = r * c;
                for (int j = 0; j < c; j++)
                    gx[off + j] += scale[j] * (gy[off + j] - meanG[j] - hs[off + j] * meanGH[j]);
            }
        });
    }
}
