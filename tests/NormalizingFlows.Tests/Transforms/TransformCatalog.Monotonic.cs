using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    // tanh conditioners (the ones of TransformCatalog.Parts.cs are initialised after this file's fields): with ReLU, the
    // far rows (±50) and the random perturbation give raw parameters in the hundreds, slopes near the 1e-3 floor next to
    // slopes of 100, and float round trips that lose digits by conditioning alone (as SmallTanh explains for splines)
    private static readonly MadeConditioner MonotonicMade = new() { HiddenFeatures = 12, Activation = Activation.Tanh };
    private static readonly ConditionerOptions MonotonicBuilder = FlowBuilders.MafConditioner with { Activation = Activation.Tanh };
    private static readonly CouplingConditioner MonotonicCoupling = new() { HiddenFeatures = 8, Activation = Activation.Tanh };
    private static readonly SigmoidalUpdate Dsf3 = new(3);
    // 33 quadrature points: the log-det check compares log β·g(x) with the derivative of the quadrature, which agree to the quadrature's accuracy
    private static readonly UmnnUpdate Umnn4 = new(embedding: 4, hidden: 8, layers: 2, nodes: 33);

    /// <summary>Neural autoregressive updates (deep sigmoidal, UMNN) in MAF, IAF and coupling structure, and their builders.</summary>
    public static readonly TransformCase[] Monotonic =
    [
        new("maf_sigmoidal", r => Masked<double>(r, 3, Dsf3, MonotonicMade), r => Masked<float>(r, 3, Dsf3, MonotonicMade), 3, Autoregressive: true),
        new("maf_sigmoidal_conditional_reversed", r => Masked<double>(r, 3, Dsf3, MonotonicMade, ctx: 2, order: MadeOrder.Reversed),
            r => Masked<float>(r, 3, Dsf3, MonotonicMade, ctx: 2, order: MadeOrder.Reversed), 3, ContextFeatures: 2, Autoregressive: true),
        new("coupling_sigmoidal", r => Coupled<double>(r, CouplingMask.Alternating(4), Dsf3, MonotonicCoupling),
            r => Coupled<float>(r, CouplingMask.Alternating(4), Dsf3, MonotonicCoupling), 4),
        new("iaf_sigmoidal", r => InverseMasked<double>(r, 3, Dsf3, MonotonicMade), r => InverseMasked<float>(r, 3, Dsf3, MonotonicMade), 3, Autoregressive: true),
        new("maf_umnn", r => Masked<double>(r, 3, Umnn4, MonotonicMade), r => Masked<float>(r, 3, Umnn4, MonotonicMade), 3, Autoregressive: true),
        new("coupling_umnn_conditional", r => Coupled<double>(r, CouplingMask.Half(3), Umnn4, MonotonicCoupling, ctx: 2),
            r => Coupled<float>(r, CouplingMask.Half(3), Umnn4, MonotonicCoupling, ctx: 2), 3, ContextFeatures: 2),
        new("flow_naf", r => FlowBuilders.Naf<double>(3, layers: 2, hidden: 8, components: 3, rng: r, conditioner: MonotonicBuilder).Transform,
            r => FlowBuilders.Naf<float>(3, layers: 2, hidden: 8, components: 3, rng: r, conditioner: MonotonicBuilder).Transform, 3),
        new("flow_umnn", r => FlowBuilders.Umnn<double>(2, layers: 2, hidden: 8, rng: r, conditioner: MonotonicBuilder, update: Umnn4).Transform,
            r => FlowBuilders.Umnn<float>(2, layers: 2, hidden: 8, rng: r, conditioner: MonotonicBuilder, update: Umnn4).Transform, 2),
    ];
}
