using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// CATHODE (Hallin et al., arXiv:2109.00546; the seeds' "Classifying Anomalies THrough Outer Density Estimation"):
/// train the outer conditional flow p_outer(x | m_jj) on the sidebands; draw m_jj from a kernel density estimate of
/// the signal-region m_jj distribution and sample "artificial" background events x ~ p_outer(x | m_jj) there
/// (oversampled: several times as many as the data); train a classifier (k-fold ensemble of MLPs on x only) of
/// signal-region data against them. The classifier approximates p_data/p_bkg in the signal region, so its output on
/// the data is the anomaly score — background-model independent and robust against x–m_jj correlations.
/// </summary>
public static class Cathode
{
    /// <summary>
    /// Runs CATHODE. <paramref name="signalRegionLow"/>/<paramref name="signalRegionHigh"/> bound the synthetic m_jj;
    /// <paramref name="oversampling"/> synthetic events per data event; pass a trained <paramref name="outer"/> flow
    /// to share it with ANODE.
    /// </summary>
    public static CathodeResult Run(BumpHuntEvents sidebands, BumpHuntEvents signalRegion, BumpHuntPreprocessing preprocessing,
        double signalRegionLow, double signalRegionHigh, DensityEstimatorOptions? flowOptions = null, EnsembleOptions? classifier = null,
        int oversampling = 4, long seed = 0, ConditionalDensityEstimator? outer = null)
    {
        ArgumentNullException.ThrowIfNull(sidebands);
        ArgumentNullException.ThrowIfNull(signalRegion);
        ArgumentNullException.ThrowIfNull(preprocessing);
        if (oversampling < 1) throw new ArgumentOutOfRangeException(nameof(oversampling), oversampling, "must be ≥ 1");
        if (signalRegion.Count < 2) throw new ArgumentException($"the signal region holds {signalRegion.Count} events: too few for CATHODE");
        flowOptions ??= new DensityEstimatorOptions();
        classifier ??= new EnsembleOptions();
        outer ??= ConditionalDensityEstimator.Fit(sidebands, preprocessing, flowOptions);
        var rng = new Rng(unchecked(seed ^ 0xCA7_40DEL));
        int nSynthetic = checked(oversampling * signalRegion.Count);
        var mjj = KernelDensitySample(signalRegion.Mjj, nSynthetic, signalRegionLow, signalRegionHigh, rng.Split());
        var synthetic = outer.Sample(mjj, rng.Split());
        var (scoresData, scoresSynthetic, ensemble) = ClassifyAgainst(signalRegion.Features, synthetic, classifier);
        return new CathodeResult(scoresData, mjj, synthetic, scoresSynthetic, ensemble, outer);
    }

    /// <summary>
    /// <paramref name="n"/> draws from a Gaussian kernel density estimate of <paramref name="values"/> (Silverman's
    /// bandwidth) restricted to [<paramref name="low"/>, <paramref name="high"/>] (draws outside are redrawn).
    /// </summary>
    public static double[] KernelDensitySample(double[] values, int n, double low, double high, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(rng);
        if (values.Length < 2) throw new ArgumentException($"a kernel density estimate needs at least 2 values, got {values.Length}");
        if (!(high > low)) throw new ArgumentException($"empty interval [{low}, {high}]");
        double mean = values.Average();
        double sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
        double h = 1.06 * sd * Math.Pow(values.Length, -0.2);
        var r = new double[n];
        for (int i = 0; i < n; i++)
        {
            double v;
            int tries = 0;
            do
            {
                v = values[rng.NextInt(values.Length)] + h * rng.NextNormal();
                if (++tries > 1000) { v = Math.Clamp(v, low, high); break; }
            } while (v < low || v > high);
            r[i] = v;
        }
        return r;
    }

    /// <summary>
    /// Trains a k-fold ensemble separating <paramref name="data"/> (label 1) from <paramref name="reference"/> (label 0)
    /// on the feature columns and returns the out-of-fold scores of both — the common core of CATHODE, the idealized
    /// anomaly detector and CWoLa hunting.
    /// </summary>
    public static (double[] DataScores, double[] ReferenceScores, CrossFittedEnsemble Ensemble) ClassifyAgainst(double[][] data, double[][] reference, EnsembleOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(reference);
        if (data.Length != reference.Length) throw new ArgumentException($"data have {data.Length} features, the reference {reference.Length}");
        int na = data[0].Length, nb = reference[0].Length;
        var columns = data.Select((c, j) => (double[])[.. c, .. reference[j]]).ToArray();
        var labels = new bool[na + nb];
        labels.AsSpan(0, na).Fill(true);
        var e = CrossFittedEnsemble.Fit(columns, labels, options);
        return (e.OutOfFold[..na], e.OutOfFold[na..], e);
    }
}
