using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Transforms.Coupling;

namespace NormalizingFlows.Transforms.Autoregressive;

/// <summary>
/// Base class of masked autoregressive transforms (MAF, Papamakarios et al. 2017): y_i = τ(x_i; θ_i(x_&lt;i, c)) with
/// θ from one <see cref="Made{T}"/> pass (outputs feature-major, <see cref="ParametersPerFeature"/> per feature).
/// Forward (data → base, the density direction) is one MADE pass. Inverse (sampling) is sequential: starting from
/// x = 0, each of D MADE passes fixes one more feature in the MADE order (after pass s the first s positions are
/// exact; the last pass sees the exact inputs of every parameter), so it costs D passes when a graph is recorded;
/// without one (sampling, evaluation) <see cref="IncrementalMade{T}"/> does the same in about one pass of work. The MADE's last layer starts
/// at zero weights with the bias set to the update's identity parameters.
/// </summary>
public abstract class AutoregressiveTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the MADE (D → hidden … → D·<paramref name="parametersPerFeature"/>) and sets its output bias to <paramref name="identityParameters"/> per feature.</summary>
    protected AutoregressiveTransform(int features, int parametersPerFeature, Rng rng, int contextFeatures, ConditionerOptions? conditioner,
        MadeOrder order, int[]? customOrder, ReadOnlySpan<double> identityParameters)
        : base(features, contextFeatures)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (identityParameters.Length != parametersPerFeature)
            throw new ArgumentException($"{identityParameters.Length} identity parameters for {parametersPerFeature} per feature", nameof(identityParameters));
        var opt = conditioner ?? ConditionerOptions.Default;
        opt.Validate();
        if (opt.BatchNorm) throw new ArgumentException("the MADE conditioner has no batch normalisation option", nameof(conditioner));
        Options = opt;
        ParametersPerFeature = parametersPerFeature;
        Made = RegisterModule("made", new Made<T>(features, opt.HiddenFeatures, rng, opt.HiddenLayers, parametersPerFeature, contextFeatures,
            order, customOrder, activation: opt.Activation, residualBlocks: opt.Residual, dropout: opt.Dropout, zeroInitLast: opt.OutputInit == ConditionerOutputInit.Identity,
            hiddenInit: opt.HiddenInit, outputWeightScale: opt.OutputInit == ConditionerOutputInit.Random ? opt.OutputWeightScale : 1.0));
        var bias = Made.Layers[^1].Bias!.Value.Span;
        for (int j = 0; j < bias.Length; j++) bias[j] = T.CreateTruncating(identityParameters[j % parametersPerFeature]);
    }

    /// <summary>The conditioner network.</summary>
    public Made<T> Made { get; }

    /// <summary>The conditioner's settings.</summary>
    public ConditionerOptions Options { get; }

    /// <summary>MADE outputs per feature.</summary>
    public int ParametersPerFeature { get; }

    /// <summary>The elementwise update with MADE outputs [N, D·ParametersPerFeature]: outputs [N, D] and log|det| per row.</summary>
    protected abstract (Var<T> Output, Var<T> LogAbsDet) TransformFeatures(Var<T> input, Var<T> parameters, bool inverse);

    private Var<T> Parameters(Var<T> x, Var<T>? context) => Made.Forward(x, ContextFeatures == 0 ? null : context);

    /// <summary>y = τ(x; MADE(x, c)) in one pass (the fast direction).</summary>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return TransformFeatures(x, Parameters(x, context), inverse: false);
    }

    /// <summary>
    /// The density pass with its parameters: θ = MADE(x, c) [N, D·ParametersPerFeature] and y = τ(x; θ) with
    /// log|det ∂y/∂x| per row, differentiable (the MAF counterpart of
    /// <see cref="InverseAutoregressiveTransform{T}.InverseWithParameters"/>, for matching θ in distillation).
    /// </summary>
    public (Var<T> Y, Var<T> LogAbsDet, Var<T> Parameters) ForwardWithParameters(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        var theta = Parameters(x, context);
        var (y, logDet) = TransformFeatures(x, theta, inverse: false);
        return (y, logDet, theta);
    }

    /// <summary>
    /// x = τ⁻¹(y; MADE(x, c)), sequential over the D positions (the slow direction). With a graph (gradients on and
    /// something requiring them) it runs D full MADE passes, differentiable throughout; otherwise (sampling,
    /// evaluation) the incremental MADE of <see cref="IncrementalMade{T}"/>, about one pass of work in all, rebuilt
    /// from the current weights on every call (the residual MADE and dropout in training mode keep the D passes).
    /// </summary>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        int n = y.Value.Dim(0);
        if (!NeedsGraph(y, context))
        {
            using var incremental = IncrementalMade<T>.TryCreate(Made);
            return incremental is null ? InverseWithoutGraph(y, context) : InverseIncremental(incremental, y, context);
        }
        Var<T> x = new(Tensor<T>.Zeros(n, Features));
        Var<T>? logDet = null;
        for (int step = 0; step < Features; step++)
            (x, logDet) = TransformFeatures(y, Parameters(x, context), inverse: true);
        return (x, logDet!);
    }

    /// <summary>
    /// The naive sampling direction without a graph: D full MADE passes, as nflows and CaloFlow v1 sample. Same result
    /// as <see cref="Inverse"/> (which uses the incremental MADE, about one pass of work); for timing comparisons.
    /// </summary>
    public (Var<T> X, Var<T> LogAbsDet) InverseFullPasses(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        using (GradMode.Disable()) return InverseWithoutGraph(y, context);
    }

    /// <summary>True when the inverse must be recorded: gradients are on and the input, the context or a parameter requires them.</summary>
    private bool NeedsGraph(Var<T> y, Var<T>? context)
    {
        if (!GradMode.IsEnabled) return false;
        if (y.RequiresGrad || (context?.RequiresGrad ?? false)) return true;
        foreach (var p in Parameters()) if (p.RequiresGrad) return true;
        return false;
    }

    /// <summary>
    /// The exact inverse without a graph in about one MADE pass (<see cref="IncrementalMade{T}"/>): at each position
    /// of the order, the feature's parameters [N, m] come from the units of the MADE that depend on the known
    /// positions only, and the elementwise update inverts that one column ([N, 1]); the log-determinants add up.
    /// </summary>
    private (Var<T> X, Var<T> LogAbsDet) InverseIncremental(IncrementalMade<T> incremental, Var<T> y, Var<T>? context)
    {
        int n = y.Value.Dim(0), d = Features;
        var x = Tensor<T>.Empty(n, d);
        var logDet = Tensor<T>.Zeros(n);
        var column = Tensor<T>.Empty(n, 1);
        try
        {
            incremental.Run(n, ContextFeatures == 0 ? null : context?.Value, (feature, _, parameters, xColumn) =>
            {
                var ys = y.Value.ReadOnlySpan; var cs = column.Span;
                for (int r = 0; r < n; r++) cs[r] = ys[r * d + feature];
                using (TensorScope.Begin())
                {
                    var (xc, ld) = TransformFeatures(new Var<T>(column), new Var<T>(parameters), inverse: true);
                    var xv = xc.Value.ReadOnlySpan; var xs = x.Span;
                    xv.CopyTo(xColumn);
                    for (int r = 0; r < n; r++) xs[r * d + feature] = xv[r];
                    Elementwise.Add<T>(logDet.ReadOnlySpan, ld.Value.ReadOnlySpan, logDet.Span);
                }
            });
        }
        finally
        {
            column.Dispose();
        }
        return (new Var<T>(x), new Var<T>(logDet));
    }

    /// <summary>
    /// The same D passes without a graph (sampling): each pass runs in its own <see cref="TensorScope"/>, so the MADE's
    /// intermediates go back to the pool at once instead of piling up D-fold until the caller's scope ends; the
    /// iterate ping-pongs between two buffers of the caller's scope.
    /// </summary>
    private (Var<T> X, Var<T> LogAbsDet) InverseWithoutGraph(Var<T> y, Var<T>? context)
    {
        int n = y.Value.Dim(0);
        var current = Tensor<T>.Zeros(n, Features);
        var other = Tensor<T>.Empty(n, Features);
        var logDet = Tensor<T>.Empty(n);
        for (int step = 0; step < Features; step++)
        {
            using (TensorScope.Begin())
            {
                var (x, ld) = TransformFeatures(y, Parameters(new Var<T>(current), context), inverse: true);
                x.Value.CopyTo(other);
                if (step == Features - 1) ld.Value.CopyTo(logDet);
            }
            (current, other) = (other, current);
        }
        other.Dispose();
        return (new Var<T>(current), new Var<T>(logDet));
    }
}

/// <summary>
/// Masked affine autoregressive transform (MAF): y_i = x_i·s_i + t_i with (raw s_i, t_i) = MADE(x_&lt;i, c) and the
/// scale from an <see cref="AffineScale"/> (soft-clamped exp by default, as zuko; <see cref="AffineScale.Sigmoid"/>
/// for nflows' form). Fast density (Forward, one MADE pass), slow sampling (Inverse, D passes); wrap it in
/// <see cref="InverseTransform{T}"/> for an IAF (fast sampling, slow density).
/// </summary>
public sealed class MaskedAffineAutoregressive<T> : AutoregressiveTransform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer over a MADE D → hidden … → 2D in <paramref name="order"/> (or <paramref name="customOrder"/>).</summary>
    public MaskedAffineAutoregressive(int features, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null,
        MadeOrder order = MadeOrder.Natural, int[]? customOrder = null, AffineScale? scale = null)
        : base(features, 2, rng, contextFeatures, conditioner, order, customOrder, [0.0, 0.0])
        => Scale = scale ?? AffineScale.Default;

    /// <summary>The scale parameterisation.</summary>
    public AffineScale Scale { get; }

    /// <inheritdoc/>
    protected override (Var<T> Output, Var<T> LogAbsDet) TransformFeatures(Var<T> input, Var<T> parameters, bool inverse)
        => AffineCouplingOp.Apply(input, parameters, Scale, inverse);
}

/// <summary>
/// Masked spline autoregressive transform (MAF with splines, Durkan et al. 2019): y_i = s(x_i; θ_i(x_&lt;i, c)) for an
/// <see cref="Splines.IElementwiseSpline"/> (rational-quadratic with identity tails: MADE multiplier 3K − 1). Fast
/// density (Forward, one MADE pass), slow sampling (Inverse, D passes).
/// </summary>
public sealed class MaskedSplineAutoregressive<T> : AutoregressiveTransform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer over a MADE D → hidden … → D·(spline parameters per element).</summary>
    public MaskedSplineAutoregressive(int features, Splines.IElementwiseSpline spline, Rng rng, int contextFeatures = 0,
        ConditionerOptions? conditioner = null, MadeOrder order = MadeOrder.Natural, int[]? customOrder = null)
        : base(features, (spline ?? throw new ArgumentNullException(nameof(spline))).ParametersPerElement, rng, contextFeatures, conditioner,
            order, customOrder, SplineIdentity.Parameters(spline))
        => Spline = spline;

    /// <summary>A rational-quadratic spline MAF with <paramref name="bins"/> bins on [−bound, bound] and identity (linear) tails.</summary>
    public static MaskedSplineAutoregressive<T> RationalQuadratic(int features, Rng rng, int bins = 8, double bound = 3.0, int contextFeatures = 0,
        ConditionerOptions? conditioner = null, MadeOrder order = MadeOrder.Natural, double minDerivative = 1e-3)
        => new(features, new Splines.RationalQuadraticSpline(bins, Splines.SplineDomain.Symmetric(bound), minDerivative: minDerivative),
            rng, contextFeatures, conditioner, order);

    /// <summary>The spline family.</summary>
    public Splines.IElementwiseSpline Spline { get; }

    /// <inheritdoc/>
    protected override (Var<T> Output, Var<T> LogAbsDet) TransformFeatures(Var<T> input, Var<T> parameters, bool inverse)
        => SplineOp.Apply(Spline, input, parameters, inverse);
}
