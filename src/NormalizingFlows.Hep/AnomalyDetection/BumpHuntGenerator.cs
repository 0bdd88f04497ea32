using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// The synthetic stand-in for the LHC Olympics 2020 R&amp;D data set. Background (QCD dijets): m_jj from the dijet
/// function (<see cref="DijetSpectrum"/>); two jet masses log-normal around a median proportional to m_jj (heavier
/// jets at higher p_T), τ21 of each jet Beta-distributed with a mean that falls with the jet's mass relative to its
/// median and with m_jj — so every feature depends smoothly on m_jj and a plain sideband/signal-region comparison is
/// biased. Signal (W' → X(→qq) Y(→qq)): m_jj Gaussian around m_W' with the m_jj resolution, jet masses Gaussian
/// around m_X and m_Y with the jet-mass resolution and a low tail (lost radiation), two-prong τ21 (low, Beta mean
/// <see cref="BumpHuntOptions.SignalTau21Mean"/>). j1 is the lighter jet. Deterministic for a seed.
/// </summary>
public sealed class BumpHuntGenerator
{
    /// <summary>Beta concentration α + β of the τ21 distributions.</summary>
    private const double TauConcentration = 14;

    /// <summary>A generator with the given settings (validated).</summary>
    public BumpHuntGenerator(BumpHuntOptions? options = null)
    {
        Options = options ?? new BumpHuntOptions();
        Options.Validate();
        Spectrum = new DijetSpectrum(Options);
    }

    /// <summary>The settings.</summary>
    public BumpHuntOptions Options { get; }

    /// <summary>The background m_jj spectrum.</summary>
    public DijetSpectrum Spectrum { get; }

    /// <summary>
    /// The full sample: <see cref="BumpHuntOptions.BackgroundEvents"/> background and
    /// <see cref="BumpHuntOptions.SignalEvents"/> signal events over the m_jj range, shuffled.
    /// </summary>
    public BumpHuntEvents Generate(Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var b = Background(Options.BackgroundEvents, rng.Split());
        var s = Signal(Options.SignalEvents, rng.Split());
        return b.Concat(s).Shuffled(rng.Split());
    }

    /// <summary>
    /// <paramref name="n"/> background events with m_jj in [<paramref name="mjjLow"/>, <paramref name="mjjHigh"/>]
    /// (the whole range by default): a perfect background sample, as the idealized anomaly detector needs.
    /// </summary>
    public BumpHuntEvents Background(int n, Rng rng, double? mjjLow = null, double? mjjHigh = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentNullException.ThrowIfNull(rng);
        double lo = mjjLow ?? Options.MjjMin, hi = mjjHigh ?? Options.MjjMax;
        if (!(lo >= Options.MjjMin && hi <= Options.MjjMax && hi > lo)) throw new ArgumentException($"m_jj window [{lo}, {hi}] must lie inside [{Options.MjjMin}, {Options.MjjMax}]");
        var mjj = new double[n];
        var f = Enumerable.Range(0, 4).Select(_ => new double[n]).ToArray();
        for (int i = 0; i < n; i++)
        {
            double m = Spectrum.Sample(rng, lo, hi);
            mjj[i] = m;
            double median = Options.QcdJetMassFraction * m;
            double za = rng.NextNormal(), zb = rng.NextNormal();
            double ma = median * Math.Exp(Options.QcdJetMassLogWidth * za), mb = median * Math.Exp(Options.QcdJetMassLogWidth * zb);
            double ta = QcdTau21(za, m, rng), tb = QcdTau21(zb, m, rng);
            Fill(f, i, ma, ta, mb, tb);
        }
        return new BumpHuntEvents(mjj, f, new bool[n]);
    }

    /// <summary><paramref name="n"/> signal events (m_jj anywhere in the generated range; Gaussian tails beyond it are redrawn).</summary>
    public BumpHuntEvents Signal(int n, Rng rng)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentNullException.ThrowIfNull(rng);
        var mjj = new double[n];
        var f = Enumerable.Range(0, 4).Select(_ => new double[n]).ToArray();
        var o = Options;
        for (int i = 0; i < n; i++)
        {
            double m;
            do m = o.ResonanceMass * (1 + o.MjjResolution * rng.NextNormal());
            while (m < o.MjjMin || m > o.MjjMax);
            mjj[i] = m;
            double mx = SignalJetMass(o.MassX, rng), my = SignalJetMass(o.MassY, rng);
            Fill(f, i, mx, Beta(o.SignalTau21Mean, rng), my, Beta(o.SignalTau21Mean, rng));
        }
        var lab = new bool[n];
        lab.AsSpan().Fill(true);
        return new BumpHuntEvents(mjj, f, lab);
    }

    /// <summary>Mean τ21 of a QCD jet: ≈ 0.68 at the median mass, lower for heavier jets (log-mass deviation z) and at higher m_jj.</summary>
    internal static double QcdTau21Mean(double z, double mjj) => Math.Clamp(0.68 - 0.06 * z - 0.08 * Math.Log(mjj / 3.5), 0.2, 0.9);

    private static double QcdTau21(double z, double mjj, Rng rng) => Beta(QcdTau21Mean(z, mjj), rng);

    private double SignalJetMass(double mass, Rng rng)
    {
        double m = mass * (1 + Options.JetMassResolution * rng.NextNormal());
        if (rng.NextDouble() < Options.JetMassTailFraction) m *= 0.6 + 0.4 * rng.NextDouble();
        return Math.Max(m, 1e-3);
    }

    /// <summary>Stores jets a and b as (j1 = lighter, Δm, τ21 of j1, τ21 of j2).</summary>
    private static void Fill(double[][] f, int i, double ma, double ta, double mb, double tb)
    {
        if (mb < ma) { (ma, mb) = (mb, ma); (ta, tb) = (tb, ta); }
        f[0][i] = ma; f[1][i] = mb - ma; f[2][i] = ta; f[3][i] = tb;
    }

    /// <summary>A Beta variate with the given mean and concentration <see cref="TauConcentration"/>, via two Gamma variates.</summary>
    private static double Beta(double mean, Rng rng)
    {
        double x = Gamma(mean * TauConcentration, rng), y = Gamma((1 - mean) * TauConcentration, rng);
        return Math.Clamp(x / (x + y), 1e-4, 1 - 1e-4);
    }

    /// <summary>Marsaglia–Tsang Gamma(k, 1) sampler (k &gt; 0; boosted for k &lt; 1).</summary>
    private static double Gamma(double k, Rng rng)
    {
        if (k < 1) return Gamma(k + 1, rng) * Math.Pow(Math.Max(rng.NextDouble(), 1e-300), 1 / k);
        double d = k - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = rng.NextNormal(), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = rng.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(Math.Max(u, 1e-300)) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }
}
