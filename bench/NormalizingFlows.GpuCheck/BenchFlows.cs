using NormalizingFlows.Distributions;
using NormalizingFlows.Nn;
using NormalizingFlows.Transforms;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// The four bench architectures of shared/bench/README.md (FlowBuilders' defaults), and the other flow families the
/// device runs (<see cref="Families"/>: correctness checks only), conditional on <c>context</c> features when given.
/// </summary>
internal static class BenchFlows
{
    public static Flow<float> Build(string model, int features, Rng rng, int context = 0) => model switch
    {
        "realnvp" => FlowBuilders.RealNvp<float>(features, contextFeatures: context, rng: rng),
        "nsf_c" => FlowBuilders.NeuralSplineFlow<float>(features, contextFeatures: context, rng: rng),
        "maf" => FlowBuilders.Maf<float>(features, contextFeatures: context, rng: rng),
        "maf_rqs" => FlowBuilders.MafRqs<float>(features, contextFeatures: context, rng: rng),
        "naf" => FlowBuilders.Naf<float>(features, contextFeatures: context, rng: rng),
        "glow" => FlowBuilders.Glow<float>(features, contextFeatures: context, rng: rng),
        "umnn" => FlowBuilders.Umnn<float>(features, contextFeatures: context, rng: rng),
        // nflows' spline flows: residual conditioners (coupling ResidualNet, residual MADE), here with SiLU units
        "nsf_c_residual" => FlowBuilders.NeuralSplineFlow<float>(features, contextFeatures: context, rng: rng, conditioner: Residual),
        "maf_rqs_residual" => FlowBuilders.MafRqs<float>(features, contextFeatures: context, rng: rng, conditioner: Residual),
        // batch norm in the coupling ResidualNets' blocks (training steps use the batch's statistics, scoring the running averages)
        "nsf_c_batchnorm" => FlowBuilders.NeuralSplineFlow<float>(features, contextFeatures: context, rng: rng, conditioner: Residual with { BatchNorm = true }),
        // a MAF with a BatchNormTransform after each layer but the last (RealNVP-paper style)
        "maf_batchnorm" => WithBatchNorm(FlowBuilders.Maf<float>(features, contextFeatures: context, rng: rng), features),
        "planar" when context == 0 => FlowBuilders.PlanarFlow<float>(features, rng: rng),
        "radial" when context == 0 => new Flow<float>(new CompositeTransform<float>([.. Enumerable.Range(0, 8).Select(_ => (Transform<float>)new Radial<float>(features, rng))]), new StandardNormal<float>(features)),
        "planar" or "radial" => throw new ArgumentException($"the {model} flow has no context", nameof(context)),
        // a continuous flow (FFJORD) with the library's default solver (adaptive Dormand–Prince, 1e−5) and exact trace
        "cnf" or "flow_matching" => FlowBuilders.ContinuousFlow<float>(features, contextFeatures: context, rng: rng),
        // dropout 0.1 in the coupling ResidualNets' blocks: scored (evaluation mode: no dropout) against the CPU; its
        // training steps draw the device's own masks, which the CPU cannot reproduce, so they are tested on the CPU accelerator
        "nsf_c_dropout" => FlowBuilders.NeuralSplineFlow<float>(features, contextFeatures: context, rng: rng, conditioner: Residual with { Dropout = 0.1 }),
        _ => throw new ArgumentException($"unknown model '{model}'", nameof(model)),
    };

    /// <summary>The flow families besides the bench's four that the check program checks on the device (log p, inverse, training).</summary>
    /// <remarks>Cheapest host references first: a stage cut by its timeout loses the slowest (the ODE solves, UMNN's quadrature).</remarks>
    public static readonly string[] Families = ["planar", "radial", "nsf_c_dropout", "maf_batchnorm", "nsf_c_batchnorm", "glow", "naf", "nsf_c_residual", "maf_rqs_residual", "flow_matching", "cnf", "umnn"];

    /// <summary>The families without a context (checked unconditionally only).</summary>
    public static bool Unconditional(string model) => model is "planar" or "radial";

    /// <summary>Families with a training-mode batch norm, whose bias before it has a gradient of 0 in exact arithmetic: their checks use Adam's ε = 1e−4 (see <see cref="AdamEps"/>).</summary>
    public static double AdamEps(string model) => model.EndsWith("_batchnorm", StringComparison.Ordinal) ? 1e-4 : 1e-8;

    private static Flow<float> WithBatchNorm(Flow<float> maf, int features)
    {
        var steps = ((CompositeTransform<float>)maf.Transform).Steps;
        var withNorm = new List<Transform<float>>();
        for (int i = 0; i < steps.Count; i++)
        {
            withNorm.Add(steps[i]);
            if (i < steps.Count - 1 && steps[i] is not Permutation<float>) withNorm.Add(new BatchNormTransform<float>(features));
        }
        return new Flow<float>(new CompositeTransform<float>([.. withNorm]), maf.Base);
    }

    private static readonly ConditionerOptions Residual = ConditionerOptions.Default with { Residual = true, Activation = Activation.Silu };

    /// <summary>Moves every weight off its start (many flows start as the identity, which would check little).</summary>
    public static void Perturb(Flow<float> flow, double scale, long seed)
    {
        var rng = new Rng(seed);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(scale * rng.NextNormal());
        }
    }
}
