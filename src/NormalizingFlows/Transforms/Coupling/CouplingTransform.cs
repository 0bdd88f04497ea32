using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Coupling;

/// <summary>
/// A coupling layer (Dinh et al.) from three parts: a <see cref="CouplingMask"/> splits the features into a
/// conditioning part x_a, passed through unchanged, and a transformed part x_b; an <see cref="IElementwiseUpdate"/>
/// (affine, additive, spline) updates x_b with parameters that a conditioner network (made by an
/// <see cref="IConditionerFactory"/>, default <see cref="CouplingConditioner"/>) computes from [x_a, context]. Forward
/// and Inverse both cost one conditioner pass; the Jacobian is block-triangular, so log|det| is that of the update.
/// The library's conditioners start at the update's identity (their output bias), so a fresh layer is the identity
/// (except with the sigmoid-scaled affine, which starts at nflows' scale ≈ 0.882). The mask is saved as the buffer
/// "mask", the network as the module "conditioner".
/// </summary>
public class CouplingTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly IConditioner<T> _network;
    private readonly Tensor<T> _maskBuffer;
    private readonly IElementwiseUpdate _run;

    /// <summary>
    /// Creates the layer; <paramref name="conditioner"/> (default <see cref="CouplingConditioner.Default"/>) makes the
    /// network [x_a, context] → m parameters per transformed feature, initialised from <paramref name="rng"/>.
    /// </summary>
    public CouplingTransform(CouplingMask mask, IElementwiseUpdate update, Rng rng, int contextFeatures = 0, IConditionerFactory? conditioner = null)
        : base((mask ?? throw new ArgumentNullException(nameof(mask))).Features, contextFeatures)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(rng);
        Mask = mask;
        Update = update;
        ConditionerFactory = conditioner ?? CouplingConditioner.Default;
        var shape = new ConditionerShape(mask.ConditioningIndices.Length, contextFeatures, mask.TransformedIndices.Length * update.ParametersPerFeature,
            update.IdentityParameters());
        _maskBuffer = RegisterBuffer("mask", Tensor<T>.FromDoubles(mask.ToArray().Select(b => b ? 1.0 : 0.0).ToArray(), mask.Features));
        (Conditioner, _network) = ConditionerCheck.Create<T>(ConditionerFactory, shape, rng);
        RegisterModule("conditioner", Conditioner);
        (_run, var weights) = update.Bind<T>(rng);
        if (weights is not null) RegisterModule("update", weights);
    }

    /// <summary>Which features are transformed and which condition.</summary>
    public CouplingMask Mask { get; private set; }

    /// <summary>The elementwise update of the transformed features.</summary>
    public IElementwiseUpdate Update { get; }

    /// <summary>Conditioner outputs per transformed feature.</summary>
    public int ParametersPerFeature => Update.ParametersPerFeature;

    /// <summary>What made the conditioner (its settings are saved with the architecture).</summary>
    public IConditionerFactory ConditionerFactory { get; }

    /// <summary>The conditioner network ([x_a, context] → parameters).</summary>
    public Module<T> Conditioner { get; }

    /// <summary>The conditioner's output [N, K·ParametersPerFeature] for the conditioning features x_a [N, D − K].</summary>
    protected Var<T> ComputeParameters(Var<T> conditioning, Var<T>? context)
        => _network.Forward(conditioning, ContextFeatures == 0 ? null : context);

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null) => Apply(x, context, inverse: false);

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null) => Apply(y, context, inverse: true);

    private (Var<T>, Var<T>) Apply(Var<T> x, Var<T>? context, bool inverse)
    {
        CheckShapes(x, context);
        var cond = Mask.ConditioningIndices; var trans = Mask.TransformedIndices;
        var xa = Ops.SelectColumns(x, cond);
        var xb = Ops.SelectColumns(x, trans);
        var (yb, ld) = _run.Apply(xb, ComputeParameters(xa, context), inverse);
        return (Ops.MergeColumns(xa, cond, yb, trans, Features), ld);
    }

    /// <inheritdoc/>
    protected override void OnStateLoaded()
    {
        var loaded = CouplingMask.Custom(_maskBuffer.ToArray().Select(v => v > T.CreateTruncating(0.5)).ToArray());
        if (loaded.TransformedIndices.Length != Mask.TransformedIndices.Length)
            throw new ArgumentException($"{TypeNames.Of(this)}: the loaded mask {loaded} transforms {loaded.TransformedIndices.Length} features, this layer's conditioner is built for {Mask.TransformedIndices.Length}");
        Mask = loaded;
        base.OnStateLoaded();
    }
}
