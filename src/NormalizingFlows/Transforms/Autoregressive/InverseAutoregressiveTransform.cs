using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

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

    /// <summary>
    /// An IAF layer from its parts: the update τ, a conditioner (default <see cref="MadeConditioner.Default"/>) reading
    /// z in <paramref name="order"/> (or <paramref name="customOrder"/>), initialised from <paramref name="rng"/>.
    /// </summary>
    public InverseAutoregressiveTransform(int features, IElementwiseUpdate update, Rng rng, int contextFeatures = 0, IConditionerFactory? conditioner = null,
        MadeOrder order = MadeOrder.Natural, int[]? customOrder = null)
        : this(new Core(features, update, rng, contextFeatures, conditioner, order, customOrder)) { }

    /// <summary>An affine IAF layer over MADE D (+C) → hidden … → 2D (scale parameterisation <paramref name="scale"/>).</summary>
    public static InverseAutoregressiveTransform<T> Affine(int features, Rng rng, int contextFeatures = 0, ConditionerOptions? conditioner = null,
        MadeOrder order = MadeOrder.Natural, int[]? customOrder = null, AffineScale? scale = null)
        => new(features, new AffineUpdate(scale ?? AffineScale.Default), rng, contextFeatures, (conditioner ?? ConditionerOptions.Default).ForMade(), order, customOrder);

    /// <summary>A spline IAF layer over MADE D (+C) → hidden … → D·(spline parameters per element).</summary>
    public static InverseAutoregressiveTransform<T> Spline(int features, Splines.IElementwiseSpline spline, Rng rng, int contextFeatures = 0,
        ConditionerOptions? conditioner = null, MadeOrder order = MadeOrder.Natural, int[]? customOrder = null)
        => new(features, new SplineUpdate(spline), rng, contextFeatures, (conditioner ?? ConditionerOptions.Default).ForMade(), order, customOrder);

    /// <summary>
    /// A student layer of the same shape as <paramref name="teacher"/>: same update, conditioner settings, order and
    /// context. With <paramref name="copyWeights"/> the conditioner starts from the teacher's weights (the first
    /// position's θ, which depends on the context only, then matches exactly; a good start for distillation).
    /// </summary>
    public static InverseAutoregressiveTransform<T> Matching(AutoregressiveTransform<T> teacher, Rng rng, bool copyWeights = true)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        var student = new InverseAutoregressiveTransform<T>(teacher.Features, teacher.Update, rng, teacher.ContextFeatures, teacher.ConditionerFactory,
            customOrder: teacher.Order);
        if (copyWeights) student.Conditioner.LoadStateDict(teacher.Conditioner.StateDict());
        return student;
    }

    /// <summary>The conditioner; it reads the base side z.</summary>
    public Module<T> Conditioner => _core.Conditioner;

    /// <summary>The conditioner as a MADE (throws for a user conditioner of another type).</summary>
    public Made<T> Made => _core.Made;

    /// <summary>The elementwise update τ.</summary>
    public IElementwiseUpdate Update => _core.Inner;

    /// <summary>What made the conditioner.</summary>
    public IConditionerFactory ConditionerFactory => _core.ConditionerFactory;

    /// <summary>Position of each feature in the conditioner's order.</summary>
    public int[] Order => _core.Order;

    /// <summary>Conditioner outputs per feature.</summary>
    public int ParametersPerFeature => _core.ParametersPerFeature;

    /// <summary>The affine scale parameterisation (null unless the update is affine).</summary>
    public AffineScale? Scale => (_core.Inner as AffineUpdate)?.Scale;

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
        return _core.ForwardWithParameters(z, context);
    }

    /// <summary>The MAF machinery with the update flipped: its one-pass Forward applies τ⁻¹.</summary>
    private sealed class Core(int features, IElementwiseUpdate update, Rng rng, int contextFeatures, IConditionerFactory? conditioner, MadeOrder order,
        int[]? customOrder)
        : AutoregressiveTransform<T>(features, new Flipped(update), rng, contextFeatures, conditioner, order, customOrder)
    {
        public IElementwiseUpdate Inner => ((Flipped)Update).Inner;
    }

    /// <summary>τ⁻¹ as the forward update.</summary>
    private sealed record Flipped(IElementwiseUpdate Inner) : IElementwiseUpdate
    {
        public int ParametersPerFeature => Inner.ParametersPerFeature;

        public double[] IdentityParameters() => Inner.IdentityParameters();

        public (Var<T2> Output, Var<T2> LogAbsDet) Apply<T2>(Var<T2> input, Var<T2> parameters, bool inverse) where T2 : unmanaged, IFloatingPointIeee754<T2>
            => Inner.Apply(input, parameters, !inverse);

        public IElementwiseUpdate ForFeature(int feature) => new Flipped(Inner.ForFeature(feature));

        public (IElementwiseUpdate Update, Module<T2>? Weights) Bind<T2>(Rng rng) where T2 : unmanaged, IFloatingPointIeee754<T2>
        {
            var (bound, weights) = Inner.Bind<T2>(rng);
            return (ReferenceEquals(bound, Inner) ? this : new Flipped(bound), weights);
        }
    }
}
