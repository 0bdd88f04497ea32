using System.Diagnostics;
using System.Globalization;
using System.Text;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// Runs plain Monte Carlo, VEGAS and the flow at equal numbers of integrand calls: each integrator spends a fraction
/// of the budget on training/adaptation (<see cref="DefaultTrainFraction"/>) and the rest on the estimate.
/// </summary>
public static class IntegrationComparison
{
    /// <summary>The methods: "mc", "vegas", "flow".</summary>
    public static IReadOnlyList<string> Methods { get; } = ["mc", "vegas", "flow"];

    /// <summary>The share of the budget spent training: mc 0, vegas 0.3, flow 0.5.</summary>
    public static double DefaultTrainFraction(string method) => method switch
    {
        "mc" => 0,
        "vegas" => 0.3,
        "flow" => 0.5,
        _ => throw new ArgumentException($"unknown method '{method}' (choose one of: {string.Join(", ", Methods)})", nameof(method)),
    };

    /// <summary>A fresh integrator of <paramref name="method"/> for <paramref name="integrand"/>.</summary>
    public static ImportanceSamplingIntegrator Create(string method, IIntegrand integrand, long seed = 0,
        FlowIntegratorOptions? flow = null, VegasOptions? vegas = null) => method switch
    {
        "mc" => new PlainMonteCarlo(integrand, seed),
        "vegas" => new Vegas(integrand, vegas, seed),
        "flow" => new FlowIntegrator(integrand, flow, seed),
        _ => throw new ArgumentException($"unknown method '{method}' (choose one of: {string.Join(", ", Methods)})", nameof(method)),
    };

    /// <summary>
    /// Trains <paramref name="integrator"/> on ⌊<paramref name="trainFraction"/>·calls⌋ calls and integrates with
    /// the rest in <paramref name="iterations"/> iterations; an <see cref="ArgumentException"/> when training leaves
    /// fewer than 2 calls per iteration. With a <paramref name="shard"/> k/K, the training is the same on every shard
    /// (same seed, same calls); shard k then integrates on its own stream
    /// (<see cref="ImportanceSamplingIntegrator.UseStream"/>) with its share of the rest of the calls, so the K
    /// shards' results merged by inverse variance (<see cref="IntegrationShardResult.Merge"/>) are one unsharded run's.
    /// </summary>
    public static IntegrationRun Run(ImportanceSamplingIntegrator integrator, long calls, double trainFraction, int iterations = 5, double? reference = null,
        Shard? shard = null)
    {
        ArgumentNullException.ThrowIfNull(integrator);
        if (!(trainFraction >= 0 && trainFraction < 1)) throw new ArgumentOutOfRangeException(nameof(trainFraction), trainFraction, "the training fraction must lie in [0, 1)");
        var clock = Stopwatch.StartNew();
        long start = integrator.FunctionCalls;
        integrator.Train((long)(trainFraction * calls));
        long trained = integrator.FunctionCalls - start;
        var part = shard ?? Shard.Whole;
        long left = part.Share(Math.Max(0, calls - trained));
        if (left < 2L * iterations)
            throw new ArgumentException($"training used {trained} of the {calls} integrand calls, leaving {left} for {iterations} iterations" +
                (part.Count > 1 ? $" of shard {part}" : "") + $" (at least {2L * iterations} needed): raise the number of calls or lower the training share");
        integrator.UseStream(part.Index);
        var result = integrator.Integrate(left, iterations);
        return new IntegrationRun(integrator.Method, integrator.Dimensions, result, reference, trained, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// A fixed-width text table: function, d, method, estimate ± error, relative error, pull from the reference,
    /// relative weight spread, unweighting efficiency (max and robust), integrand calls, seconds.
    /// </summary>
    public static string FormatTable(IEnumerable<IntegrationRun> runs)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Format(c, "{0,-10} {1,3} {2,-6} {3,26} {4,10} {5,7} {6,8} {7,9} {8,9} {9,10} {10,7}",
            "function", "d", "method", "estimate ± error", "rel.err", "pull", "σ_w/⟨w⟩", "eff(max)", "eff(q99.9)", "f-calls", "s"));
        foreach (var r in runs)
        {
            var res = r.Result;
            string pull = r.Reference is { } v ? res.Pull(v).ToString("+0.00;-0.00", c) : "–";
            sb.AppendLine(string.Format(c, "{0,-10} {1,3} {2,-6} {3,26} {4,10:0.00E+0} {5,7} {6,8:0.000} {7,9:0.0000} {8,9:0.0000} {9,10} {10,7:0.0}",
                res.Integrand, r.Dimensions, r.Method, $"{res.Estimate:0.000000E+0} ± {res.Error:0.0E+0}", res.RelativeError, pull,
                res.Weights.RelativeStandardDeviation, res.Weights.UnweightingEfficiency, res.Weights.RobustUnweightingEfficiency, res.TotalCalls, r.Seconds));
        }
        return sb.ToString();
    }
}
