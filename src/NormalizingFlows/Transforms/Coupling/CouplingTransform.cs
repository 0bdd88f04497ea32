using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Coupling;

/// <summary>
/// Base class of coupling layers (Dinh et al.): the features split by a <see cref="CouplingMask"/> into a
/// conditioning part x_a, passed through unchanged, and a transformed part x_b updated elementwise with parameters
/// computed by a conditioner network from [x_a, context]. Forward and Inverse both cost one conditioner pass; the
/// Jacobian is block-triangular, so log|det| is that of the elementwise update. The conditioner outputs
/// <see cref="ParametersPerFeature"/> values per transformed feature, feature-major, and its last layer starts at zero
/// weights with the bias set to the update's identity parameters, so a fresh layer is the identity (for every update
/// except the sigmoid-scaled affine, which starts at nflows' scale ≈ 0.882). The mask is saved as the buffer "mask".
/// </summary>
public abstract class CouplingTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T>? _mlp;
    private readonly ResidualNet<T>? _resnet;
    private readonly Tensor<T> _maskBuffer;

    /// <summary>
    /// Creates the layer and its conditioner ([x_a, context] → <paramref name="parametersPerFeature"/> per transformed
    /// feature); the conditioner's output bias repeats <paramref name="identityParameters"/> for every transformed feature.
    /// </summary>
    protected CouplingTransform(CouplingMask mask, int parametersPerFeature, Rng rng, int contextFeatures,
        ConditionerOptions? conditioner, ReadOnlySpan<double> identityParameters)
        : base((mask ?? throw new ArgumentNullException(nameof(mask))).Features, contextFeatures)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (parametersPerFeature < 1) throw new ArgumentOutOfRangeException(nameof(parametersPerFeature), parametersPerFeature, "must be ≥ 1");
        if (identityParameters.Length != parametersPerFeature)
            throw new ArgumentException($"{identityParameters.Length} identity parameters for {parametersPerFeature} per feature", nameof(identityParameters));
        var opt = conditioner ?? ConditionerOptions.Default;
        opt.Validate();
        Mask = mask;
        ParametersPerFeature = parametersPerFeature;
        Options = opt;
        int inputs = mask.ConditioningIndices.Length, outputs = mask.TransformedIndices.Length * parametersPerFeature;
        _maskBuffer = RegisterBuffer("mask", Tensor<T>.FromDoubles(mask.ToArray().Select(b => b ? 1.0 : 0.0).ToArray(), mask.Features));
        Tensor<T> bias;
        if (opt.Residual)
        {
            _resnet = RegisterModule("conditioner", new ResidualNet<T>(inputs, outputs, opt.HiddenFeatures, rng, contextFeatures,
                opt.HiddenLayers, opt.Activation, opt.Dropout, opt.BatchNorm, zeroInitLast: opt.OutputInit == ConditionerOutputInit.Identity));
            bias = _resnet.NamedParameters().First(p => p.Key == "final.bias").Value.Value;
        }
        else
        {
            _mlp = RegisterModule("conditioner", new Mlp<T>(inputs + contextFeatures, Enumerable.Repeat(opt.HiddenFeatures, opt.HiddenLayers).ToArray(),
                outputs, rng, opt.Activation, zeroInitLast: opt.OutputInit == ConditionerOutputInit.Identity, dropout: opt.Dropout));
            bias = _mlp.Layers[^1].Bias!.Value;
        }
        var bs = bias.Span;
        for (int j = 0; j < bs.Length; j++) bs[j] = T.CreateTruncating(identityParameters[j % parametersPerFeature]);
    }

    /// <summary>Which features are transformed and which condition.</summary>
    public CouplingMask Mask { get; private set; }

    /// <summary>Conditioner outputs per transformed feature.</summary>
    public int ParametersPerFeature { get; }

    /// <summary>The conditioner's settings.</summary>
    public ConditionerOptions Options { get; }

    /// <summary>The conditioner network ([x_a, context] → parameters).</summary>
    public Module<T> Conditioner => (Module<T>?)_mlp ?? _resnet!;

    /// <summary>The update of the transformed part: outputs [N, K] and log|det| per row, forward or inverse.</summary>
    protected abstract (Var<T> Output, Var<T> LogAbsDet) TransformFeatures(Var<T> input, Var<T> parameters, bool inverse);

    /// <summary>The conditioner's output [N, K·ParametersPerFeature] for the conditioning features x_a [N, D − K].</summary>
    protected Var<T> ComputeParameters(Var<T> conditioning, Var<T>? context)
    {
        if (ContextFeatures == 0) context = null;
        if (_mlp is not null) return _mlp.Forward(context is null ? conditioning : Ops.ConcatColumns(conditioning, context));
        return _resnet!.Forward(conditioning, context);
    }

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
        var (yb, ld) = TransformFeatures(xb, ComputeParameters(xa, context), inverse);
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
