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
        _ => throw new ArgumentException($"unknown model '{model}'", nameof(model)),
    };

    /// <summary>The flow families besides the bench's four that the check program checks on the device (log p, inverse, training).</summary>
    public static readonly string[] Families = ["naf", "umnn", "glow", "nsf_c_residual", "maf_rqs_residual"];

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
