using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Activation normalisation (Glow): per-feature y = x·exp(s) + b with data-dependent initialisation. The first
/// <see cref="Forward"/> call in training mode on a non-empty batch sets s = −log √(Var[x] + ε) and b = −mean·exp(s)
/// so that this batch comes out with zero mean and unit (biased) variance per feature; afterwards s and b are
/// ordinary parameters. Parameters: "log_scale" [D], "shift" [D]; buffer "initialized" (rank 0, 0 or 1), saved
/// with the model so that a loaded model never re-initialises. Inverse before initialisation uses the current
/// parameters (the identity for a fresh layer) and does not initialise.
/// </summary>
public sealed class ActNorm<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    protected override bool TreatsRowsIndependently => !Training || IsInitialized; // the first batch initialises it

    private readonly Tensor<T> _initialized;

    /// <summary>Creates an uninitialised layer on <paramref name="features"/> features (ε = <paramref name="eps"/> added to the variance).</summary>
    public ActNorm(int features, double eps = 1e-6) : base(features)
    {
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be ≥ 0");
        Eps = eps;
        LogScale = RegisterParameter("log_scale", new Parameter<T>(Tensor<T>.Zeros(features)));
        Shift = RegisterParameter("shift", new Parameter<T>(Tensor<T>.Zeros(features)));
        _initialized = RegisterBuffer("initialized", Tensor<T>.Scalar(T.Zero));
    }

    /// <summary>Added to the batch variance at initialisation.</summary>
    public double Eps { get; }

    /// <summary>Log of the per-feature scale, s [D].</summary>
    public Parameter<T> LogScale { get; }

    /// <summary>Per-feature shift, b [D].</summary>
    public Parameter<T> Shift { get; }

    /// <summary>True once the data-dependent initialisation ran (or was loaded).</summary>
    public bool IsInitialized => _initialized[0] != T.Zero;

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        if (Training && !IsInitialized && x.Value.Dim(0) > 0) Initialize(x.Value);
        return AffineOp.Apply(x, LogScale, Shift, inverse: false);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return AffineOp.Apply(y, LogScale, Shift, inverse: true);
    }

    /// <summary>Sets the parameters from <paramref name="x"/>'s per-feature mean and variance and marks the layer initialised.</summary>
    private void Initialize(Tensor<T> x)
    {
        int n = x.Dim(0), d = Features;
        var xs = x.ReadOnlySpan;
        var s = LogScale.Value.Span; var b = Shift.Value.Span;
        for (int j = 0; j < d; j++)
        {
            double mean = 0;
            for (int r = 0; r < n; r++) mean += double.CreateTruncating(xs[r * d + j]);
            mean /= n;
            double var = 0;
            for (int r = 0; r < n; r++)
            {
                double e = double.CreateTruncating(xs[r * d + j]) - mean;
                var += e * e;
            }
            var /= n;
            double logScale = -0.5 * Math.Log(var + Eps);
            if (!double.IsFinite(logScale)) logScale = 0; // constant feature with eps = 0: leave the scale alone
            s[j] = T.CreateTruncating(logScale);
            b[j] = T.CreateTruncating(-mean * Math.Exp(logScale));
        }
        _initialized[0] = T.One;
    }
}
