using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// Calibration checks of posterior estimators: simulation-based calibration (Talts et al. 2018: draw θ* from the
/// prior, x from the simulator, L posterior samples given x; the rank of θ* among them is uniform on 0 … L for a
/// correct posterior), the expected coverage of central credible intervals, and posterior mean/std against the truth.
/// </summary>
public static class PosteriorCalibration
{
    /// <summary>The default credibility levels: 50, 68.27, 90, 95 and 99 %.</summary>
    public static IReadOnlyList<double> DefaultLevels { get; } = [0.5, 0.6827, 0.9, 0.95, 0.99];

    /// <summary>
    /// Simulates <paramref name="observations"/> pairs, draws <paramref name="samples"/> posterior samples for all of
    /// them in one batched call, and evaluates them (<see cref="Evaluate"/>).
    /// </summary>
    public static CalibrationResult Run<T>(PosteriorEstimator<T> estimator, ISimulator simulator, int observations, int samples, Rng rng,
        int bins = 20, IReadOnlyList<double>? levels = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(estimator);
        ArgumentNullException.ThrowIfNull(simulator);
        ArgumentNullException.ThrowIfNull(rng);
        estimator.CheckSimulator(simulator);
        ArgumentOutOfRangeException.ThrowIfLessThan(observations, 1);
        var (theta, x) = simulator.Sample(observations, rng);
        using var xt = Tensor<T>.FromDoubles(x, observations, estimator.ObservationFeatures).Untrack();
        using var post = estimator.SamplePosterior(xt, samples, rng);
        return Evaluate(estimator.Spec.ParameterNames, theta, post.ToDoubleArray(), observations, samples, bins, levels);
    }

    /// <summary>
    /// Evaluates posterior samples against the truths: <paramref name="truth"/> is [N, d] row-major,
    /// <paramref name="samples"/> [N·L, d] with observation i's L samples in rows i·L … i·L + L − 1 (the layout of
    /// <see cref="PosteriorEstimator{T}.SamplePosterior"/>). Ranks are binned into <paramref name="bins"/> bins with the
    /// exact expected count per bin (so L + 1 need not be a multiple of the bins).
    /// </summary>
    public static CalibrationResult Evaluate(IReadOnlyList<string> names, double[] truth, double[] samples, int observations, int samplesPerObservation,
        int bins = 20, IReadOnlyList<double>? levels = null)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(samples);
        int d = names.Count, n = observations, l = samplesPerObservation;
        if (d < 1) throw new ArgumentException("at least one parameter is needed", nameof(names));
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(l, 2);
        if (truth.Length != (long)n * d) throw new ArgumentException($"truth has {truth.Length} values, expected {n}×{d}", nameof(truth));
        if (samples.Length != (long)n * l * d) throw new ArgumentException($"samples has {samples.Length} values, expected {n}×{l}×{d}", nameof(samples));
        if (bins < 2 || bins > l + 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, $"bins must be in [2, samples + 1 = {l + 1}]");
        var lv = (levels ?? DefaultLevels).ToArray();
        foreach (var a in lv)
            if (!(a > 0 && a < 1)) throw new ArgumentOutOfRangeException(nameof(levels), a, "credibility levels must lie in (0, 1)");

        var ranks = new RankHistogram[d];
        var summaries = new ParameterSummary[d];
        var inside = new bool[n, lv.Length];
        for (int i = 0; i < n; i++) for (int a = 0; a < lv.Length; a++) inside[i, a] = true;

        // expected count per bin: ranks 0 … L are equally likely; rank r falls in bin ⌊r·B/(L+1)⌋
        var perBin = new long[bins];
        for (int r = 0; r <= l; r++) perBin[(int)((long)r * bins / (l + 1))]++;
        var expected = perBin.Select(c => (double)c * n / (l + 1)).ToArray();

        var column = new double[l];
        var pit = new Rng(0x9177);
        for (int j = 0; j < d; j++)
        {
            var counts = new long[bins];
            var covered = new long[lv.Length];
            double sumBias = 0, sumSq = 0, sumStd = 0, sumPull = 0, sumPull2 = 0;
            for (int i = 0; i < n; i++)
            {
                double t = truth[i * d + j];
                double mean = 0;
                for (int s = 0; s < l; s++) { column[s] = samples[((long)i * l + s) * d + j]; mean += column[s]; }
                mean /= l;
                double var = 0;
                int rank = 0;
                for (int s = 0; s < l; s++)
                {
                    var += (column[s] - mean) * (column[s] - mean);
                    if (column[s] < t) rank++;
                }
                double std = Math.Sqrt(var / (l - 1));
                counts[(int)((long)rank * bins / (l + 1))]++;
                // randomised PIT u = (rank + V)/(L + 1), V ~ U(0, 1): exactly uniform on [0, 1] for a correct posterior, so
                // "truth inside the central α interval" ⇔ |u − ½| ≤ α/2 has expectation exactly α for any L (sample
                // quantiles of L draws would make wide intervals too narrow: 99 draws cover 99 % intervals only 97 % of the time)
                double u = (rank + pit.NextDouble()) / (l + 1);
                for (int a = 0; a < lv.Length; a++)
                {
                    if (Math.Abs(u - 0.5) <= lv[a] / 2) covered[a]++;
                    else inside[i, a] = false;
                }
                sumBias += mean - t;
                sumSq += (mean - t) * (mean - t);
                sumStd += std;
                double pull = std > 0 ? (t - mean) / std : 0;
                sumPull += pull;
                sumPull2 += pull * pull;
            }
            double chi2 = 0;
            for (int b = 0; b < bins; b++) chi2 += (counts[b] - expected[b]) * (counts[b] - expected[b]) / expected[b];
            ranks[j] = new RankHistogram(names[j], counts, expected, chi2, bins - 1, SpecialFunctions.ChiSquareSurvival(chi2, bins - 1));
            double pm = sumPull / n;
            summaries[j] = new ParameterSummary(names[j], sumBias / n, Math.Sqrt(sumSq / n), sumStd / n, pm,
                Math.Sqrt(Math.Max(0, sumPull2 / n - pm * pm)), covered.Select(c => (double)c / n).ToArray());
        }
        var joint = new double[lv.Length];
        for (int a = 0; a < lv.Length; a++)
        {
            int c = 0;
            for (int i = 0; i < n; i++) if (inside[i, a]) c++;
            joint[a] = (double)c / n;
        }
        return new CalibrationResult(n, l, lv, ranks, summaries, joint);
    }
}
