using NormalizingFlows.Hep.Evaluation;
using System.Diagnostics;
using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// Compares a posterior estimator trained on <see cref="WlnuSimulator"/> with the quadratic W-mass-constraint solution
/// on held-out events: p_z resolution (posterior median versus the smaller-|p_z| root, and the oracle choice of root
/// as a bound), the coverage of 68 % intervals (the flow's central posterior interval; for the quadratic solution
/// the chosen root ± its own σ68 over all events, calibrated on average by construction), separately for events with
/// and without real roots, and the posterior sampling speed.
/// </summary>
public static class NeutrinoStudy
{
    /// <summary>Runs the comparison on <paramref name="events"/> fresh events, <paramref name="samplesPerEvent"/> posterior samples each.</summary>
    public static NeutrinoStudyResult Run<T>(PosteriorEstimator<T> estimator, WlnuSimulator simulator, int events, int samplesPerEvent, Rng rng, int examples = 6)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(estimator);
        ArgumentNullException.ThrowIfNull(simulator);
        ArgumentNullException.ThrowIfNull(rng);
        estimator.CheckSimulator(simulator);
        ArgumentOutOfRangeException.ThrowIfLessThan(events, 10);
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerEvent, 10);
        var (theta, x) = simulator.Sample(events, rng);
        int l = samplesPerEvent;
        var truth = new double[events];
        var flowMedian = new double[events];
        var flowIn68 = new bool[events];
        var small = new double[events];
        var large = new double[events];
        var real = new bool[events];
        var exampleList = new List<NeutrinoExample>();
        var pz = new double[l];
        var clock = new Stopwatch();
        var pit = new Rng(0x9177);
        var process = Process.GetCurrentProcess();
        var cpu = TimeSpan.Zero;
        int chunk = Math.Max(1, (1 << 20) / l); // ≈ 1 M samples per chunk bounds the memory
        for (int start = 0; start < events; start += chunk)
        {
            int rows = Math.Min(chunk, events - start);
            using var xt = Tensor<T>.FromDoubles(x.AsSpan(start * 6, rows * 6), rows, 6).Untrack();
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            clock.Start();
            using var post = estimator.SamplePosterior(xt, l, rng);
            clock.Stop();
            process.Refresh();
            cpu += process.TotalProcessorTime - cpuBefore;
            var s = post.ReadOnlySpan;
            for (int i = 0; i < rows; i++)
            {
                int e = start + i;
                truth[e] = WlnuSimulator.NeutrinoPz(theta[3 * e], theta[3 * e + 1], theta[3 * e + 2]);
                for (int j = 0; j < l; j++)
                {
                    int o = (i * l + j) * 3;
                    pz[j] = WlnuSimulator.NeutrinoPz(double.CreateTruncating(s[o]), double.CreateTruncating(s[o + 1]), double.CreateTruncating(s[o + 2]));
                }
                Array.Sort(pz);
                flowMedian[e] = SortedQuantile.Of(pz, 0.5);
                // inside the central 68.27 % interval, by the randomised PIT of the truth's rank (unbiased for any L)
                int rank = 0;
                while (rank < l && pz[rank] < truth[e]) rank++;
                flowIn68[e] = Math.Abs((rank + pit.NextDouble()) / (l + 1) - 0.5) <= 0.6827 / 2;
                var q = NeutrinoSolver.SolvePz(x[6 * e], x[6 * e + 1], x[6 * e + 2], x[6 * e + 3], x[6 * e + 4], x[6 * e + 5]);
                small[e] = q.Small; large[e] = q.Large; real[e] = q.HasRealRoots;
                if (exampleList.Count < examples && (exampleList.Count % 2 == 0) == q.HasRealRoots)
                    exampleList.Add(new NeutrinoExample(truth[e], q.Small, q.Large, q.HasRealRoots, (double[])pz.Clone()));
            }
        }

        var oracle = new double[events];
        for (int e = 0; e < events; e++)
            oracle[e] = Math.Abs(small[e] - truth[e]) <= Math.Abs(large[e] - truth[e]) ? small[e] : large[e];
        double quadSigma = Sigma68(Residuals(small, truth, _ => true));
        var quadIn68 = new bool[events];
        for (int e = 0; e < events; e++) quadIn68[e] = Math.Abs(small[e] - truth[e]) <= quadSigma; // by construction 68.27 % over all events

        var rowsOut = new List<PzResolution>();
        (string Name, Func<int, bool> Keep)[] categories = [("all", _ => true), ("real roots", e => real[e]), ("no real root", e => !real[e])];
        foreach (var (name, keep) in categories)
        {
            rowsOut.Add(Row("flow posterior median", name, flowMedian, truth, keep, flowIn68));
            rowsOut.Add(Row("quadratic, smaller |pz| root", name, small, truth, keep, quadIn68));
            rowsOut.Add(Row("quadratic, root nearer the truth (oracle)", name, oracle, truth, keep, null));
        }
        return new NeutrinoStudyResult(events, l, real.Count(r => !r) / (double)events, rowsOut.ToArray(), clock.Elapsed.TotalSeconds, exampleList.ToArray(),
            cpu.TotalSeconds);
    }

    private static PzResolution Row(string method, string category, double[] estimate, double[] truth, Func<int, bool> keep, bool[]? inside)
    {
        var r = Residuals(estimate, truth, keep);
        if (r.Length == 0) return new PzResolution(method, category, 0, double.NaN, double.NaN, double.NaN, double.NaN);
        double rms = Math.Sqrt(r.Sum(v => v * v) / r.Length);
        double coverage = double.NaN;
        if (inside is not null)
        {
            int c = 0, n = 0;
            for (int e = 0; e < truth.Length; e++)
                if (keep(e)) { n++; if (inside[e]) c++; }
            coverage = (double)c / n;
        }
        Array.Sort(r);
        return new PzResolution(method, category, r.Length, Sigma68Sorted(r), rms, SortedQuantile.Of(r, 0.5), coverage);
    }

    private static double[] Residuals(double[] estimate, double[] truth, Func<int, bool> keep)
    {
        var r = new List<double>(truth.Length);
        for (int e = 0; e < truth.Length; e++) if (keep(e)) r.Add(estimate[e] - truth[e]);
        return r.ToArray();
    }

    private static double Sigma68(double[] residuals)
    {
        var r = (double[])residuals.Clone();
        Array.Sort(r);
        return Sigma68Sorted(r);
    }

    private static double Sigma68Sorted(double[] sorted) => 0.5 * (SortedQuantile.Of(sorted, 0.84135) - SortedQuantile.Of(sorted, 0.15865));
}
