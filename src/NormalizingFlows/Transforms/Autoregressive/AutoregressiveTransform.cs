using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms.Autoregressive;

/// <summary>
/// A masked autoregressive transform (MAF, Papamakarios et al. 2017) from its parts: y_i = τ(x_i; θ_i(x_&lt;i, c)) with
/// τ an <see cref="IElementwiseUpdate"/> (affine, additive, spline) and θ from one pass of an autoregressive
/// conditioner (made by an <see cref="IConditionerFactory"/>, default <see cref="MadeConditioner"/>; outputs
/// feature-major, <see cref="ParametersPerFeature"/> per feature). Forward (data → base, the density direction) is one
/// conditioner pass. Inverse (sampling) is sequential: starting from x = 0, each of D passes fixes one more feature in
/// the order (after pass s the first s positions are exact; the last pass sees the exact inputs of every parameter), so
/// it costs D passes when a graph is recorded; without one (sampling, evaluation) a MADE conditioner runs as an
/// <see cref="IncrementalMade{T}"/>, about one pass of work. A user conditioner is probed once at construction and
/// refused unless it is autoregressive in the layer's order. The network is saved as the module "made".
/// </summary>
public class AutoregressiveTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly IConditioner<T> _network;
    private readonly int[] _order;
    private readonly IElementwiseUpdate _run;

    /// <summary>
    /// Creates the layer over <paramref name="features"/> features in <paramref name="order"/> (or
    /// <paramref name="customOrder"/>, customOrder[j] = position of feature j); <paramref name="conditioner"/> (default
    /// <see cref="MadeConditioner.Default"/>) makes the network D (+C) → D·m, initialised from <paramref name="rng"/>.
    /// </summary>
    public AutoregressiveTransform(int features, IElementwiseUpdate update, Rng rng, int contextFeatures = 0, IConditionerFactory? conditioner = null,
        MadeOrder order = MadeOrder.Natural, int[]? customOrder = null)
        : base(features, contextFeatures)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(rng);
        Update = update;
        ConditionerFactory = conditioner ?? MadeConditioner.Default;
        _order = Nn.Made<T>.ResolveOrder(features, order, customOrder, rng);
        var shape = new ConditionerShape(features, contextFeatures, features * update.ParametersPerFeature, update.IdentityParameters(), _order);
        (Conditioner, _network) = ConditionerCheck.Create<T>(ConditionerFactory, shape, rng);
        RegisterModule("made", Conditioner);
        (_run, var weights) = update.Bind<T>(rng);
        if (weights is not null) RegisterModule("update", weights);
    }

    /// <summary>The elementwise update τ.</summary>
    public IElementwiseUpdate Update { get; }

    /// <summary>What made the conditioner (its settings are saved with the architecture).</summary>
    public IConditionerFactory ConditionerFactory { get; }

    /// <summary>The conditioner network.</summary>
    public Module<T> Conditioner { get; }

    /// <summary>The conditioner as a MADE (throws for a user conditioner of another type).</summary>
    public Made<T> Made => Conditioner as Made<T>
        ?? throw new InvalidOperationException($"the conditioner of this layer is a {TypeNames.Of(Conditioner)}, not a MADE");

    /// <summary>Position of each feature in the autoregressive order.</summary>
    public int[] Order => (int[])_order.Clone();

    /// <summary>Conditioner outputs per feature.</summary>
    public int ParametersPerFeature => Update.ParametersPerFeature;

    private Var<T> Parameters(Var<T> x, Var<T>? context) => _network.Forward(x, ContextFeatures == 0 ? null : context);

    /// <summary>y = τ(x; MADE(x, c)) in one pass (the fast direction).</summary>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return _run.Apply(x, Parameters(x, context), inverse: false);
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
        var (y, logDet) = _run.Apply(x, theta, inverse: false);
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
            using var incremental = Conditioner is Made<T> made ? IncrementalMade<T>.TryCreate(made) : null;
            return incremental is null ? InverseWithoutGraph(y, context) : InverseIncremental(incremental, y, context);
        }
        Var<T> x = new(Tensor<T>.Zeros(n, Features));
        Var<T>? logDet = null;
        for (int step = 0; step < Features; step++)
            (x, logDet) = _run.Apply(y, Parameters(x, context), inverse: true);
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
                    var (xc, ld) = _run.ForFeature(feature).Apply(new Var<T>(column), new Var<T>(parameters), inverse: true);
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
                var (x, ld) = _run.Apply(y, Parameters(new Var<T>(current), context), inverse: true);
                x.Value.CopyTo(other);
                if (step == Features - 1) ld.Value.CopyTo(logDet);
            }
            (current, other) = (other, current);
        }
        other.Dispose();
        return (new Var<T>(current), new Var<T>(logDet));
    }
}
