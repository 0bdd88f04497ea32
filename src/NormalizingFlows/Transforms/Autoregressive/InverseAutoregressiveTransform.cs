using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Coupling;

namespace NormalizingFlows.Transforms.Autoregressive;

/// <summary>
/// An inverse autoregressive layer (IAF, Kingma et al. 2016) parameterised exactly like a MAF layer, the student layer
/// of probability density distillation (van den Oord et al. 2018; CaloFlow v2). A MAF layer maps data → base as
/// z_i = τ(x_i; θ_i(x_&lt;i, c)); this layer maps z_i = τ(x_i; θ_i(z_&lt;i, c)) — the same elementwise τ and the same
/// meaning of θ, but the MADE reads the base side. So sampling (<see cref="Inverse"/>, base → data:
/// x_i = τ⁻¹(z_i; θ_i(z_&lt;i, c))) is one MADE pass, density (<see cref="Forward"/>) is sequential (D passes, or the
/// incremental MADE without a graph), and a student trained to match its teacher's θ layer by layer reproduces the
/// teacher's map. Unlike <c>InverseTransform(MaskedAffineAutoregressive)</c> (which applies τ, not τ⁻¹, when sampling)
/// the student's θ and the teacher's θ are directly comparable, which the distillation loss needs.
/// </summary>
public sealed class InverseAutoregressiveTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Core _core;

    private InverseAutoregressiveTransform(Core core) : base(core.Features, core.ContextFeatures)
        => _core = RegisterModule("inner", core);

    /// <summary>An affine IAF layer over MADE D (+C) → hidden … → 2D (scale parameterisation <paramref name="scale"/>).</summary>
    public static InverseAutoregressiveTransform<T> Affine(int features, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null,
        MadeOrder order = MadeOrder.Natural, int[]? customOrder = null, AffineScale? scale = null)
        => new(new Core(features, 2, rng, contextFeatures, conditioner, order, customOrder, [0.0, 0.0], scale ?? AffineScale.Default, null));

    /// <summary>A spline IAF layer over MADE D (+C) → hidden … → D·(spline parameters per element).</summary>
    public static InverseAutoregressiveTransform<T> Spline(int features, Splines.IElementwiseSpline spline, Rng rng, int contextFeatures = 0,
        ConditionerOptions? conditioner = null, MadeOrder order = MadeOrder.Natural, int[]? customOrder = null)
    {
        ArgumentNullException.ThrowIfNull(spline);
        return new(new Core(features, spline.ParametersPerElement, rng, contextFeatures, conditioner, order, customOrder,
            SplineIdentity.Parameters(spline), null, spline));
    }

    /// <summary>
    /// A student layer of the same shape as <paramref name="teacher"/> (a <see cref="MaskedAffineAutoregressive{T}"/> or
    /// <see cref="MaskedSplineAutoregressive{T}"/>): same elementwise map, MADE size, order and context. With
    /// <paramref name="copyWeights"/> the MADE starts from the teacher's weights (the first position's θ, which depends
    /// on the context only, then matches exactly; a good start for distillation).
    /// </summary>
    public static InverseAutoregressiveTransform<T> Matching(AutoregressiveTransform<T> teacher, Rng rng, bool copyWeights = true)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        var order = teacher.Made.Order;
        var student = teacher switch
        {
            MaskedAffineAutoregressive<T> a => Affine(a.Features, rng, a.ContextFeatures, a.Options, customOrder: order, scale: a.Scale),
            MaskedSplineAutoregressive<T> s => Spline(s.Features, s.Spline, rng, s.ContextFeatures, s.Options, customOrder: order),
            _ => throw new ArgumentException($"no student layer for {TypeNames.Of(teacher)} (affine and spline MAF layers are supported)", nameof(teacher)),
        };
        if (copyWeights)
        {
            var state = teacher.Made.StateDict();
            student.Made.LoadStateDict(state);
        }
        return student;
    }

    /// <summary>The conditioner; it reads the base side z.</summary>
    public Made<T> Made => _core.Made;

    /// <summary>MADE outputs per feature.</summary>
    public int ParametersPerFeature => _core.ParametersPerFeature;

    /// <summary>The affine scale parameterisation (null for a spline layer).</summary>
    public AffineScale? Scale => _core.Scale;

    /// <summary>The spline family (null for an affine layer).</summary>
    public Splines.IElementwiseSpline? SplineFamily => _core.SplineFamily;

    /// <summary>z = τ(x; θ(z, c)), sequential over the D positions (the slow direction); log|det ∂z/∂x| per row.</summary>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return _core.Inverse(x, context);
    }

    /// <summary>x = τ⁻¹(z; θ(z, c)) in one MADE pass (the fast direction); log|det ∂x/∂z| per row.</summary>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return _core.Forward(y, context);
    }

    /// <summary>
    /// The sampling pass with its parameters: θ = MADE(z, c) [N, D·m] (feature-major, as the MAF's) and
    /// x = τ⁻¹(z; θ) with log|det ∂x/∂z|, differentiable.
    /// </summary>
    public (Var<T> X, Var<T> LogAbsDet, Var<T> Parameters) InverseWithParameters(Var<T> z, Var<T>? context = null)
    {
        CheckShapes(z, context);
        var theta = _core.Made.Forward(z, ContextFeatures == 0 ? null : context);
        var (x, ld) = _core.Elementwise(z, theta, inverse: true);
        return (x, ld, theta);
    }

    /// <summary>The MAF machinery with the elementwise direction flipped: its one-pass Forward applies τ⁻¹.</summary>
    private sealed class Core : AutoregressiveTransform<T>
    {
        public Core(int features, int parametersPerFeature, Rng rng, int contextFeatures, ConditionerOptions? conditioner, MadeOrder order,
            int[]? customOrder, double[] identity, AffineScale? scale, Splines.IElementwiseSpline? spline)
            : base(features, parametersPerFeature, rng, contextFeatures, conditioner, order, customOrder, identity)
        {
            Scale = scale;
            SplineFamily = spline;
        }

        public AffineScale? Scale { get; }

        public Splines.IElementwiseSpline? SplineFamily { get; }

        /// <summary>τ (inverse = false) or τ⁻¹ (inverse = true) with the given parameters.</summary>
        public (Var<T> Output, Var<T> LogAbsDet) Elementwise(Var<T> input, Var<T> parameters, bool inverse)
            => SplineFamily is null ? AffineCouplingOp.Apply(input, parameters, Scale!.Value, inverse) : SplineOp.Apply(SplineFamily, input, parameters, inverse);

        protected override (Var<T> Output, Var<T> LogAbsDet) TransformFeatures(Var<T> input, Var<T> parameters, bool inverse)
            => Elementwise(input, parameters, !inverse);
    }
}
