using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// Settings of the synthetic LHC-Olympics-like dijet sample (<see cref="BumpHuntGenerator"/>). Masses in TeV. The
/// defaults follow the LHCO R&amp;D set: 10⁶ background events, 1000 signal events (W' → X Y, m_W' = 3.5, m_X = 0.5,
/// m_Y = 0.1 TeV), signal region 3.3–3.7 TeV.
/// </summary>
public sealed record BumpHuntOptions
{
    /// <summary>QCD-like background events over the whole m_jj range.</summary>
    public int BackgroundEvents { get; init; } = 1_000_000;

    /// <summary>Injected signal events (before any cut; about 77 % fall into the default signal region). 0 for a signal-free sample.</summary>
    public int SignalEvents { get; init; } = 1000;

    /// <summary>Collider energy √s in TeV (the dijet function's x = m_jj/√s).</summary>
    public double SqrtS { get; init; } = 13.0;

    /// <summary>Lower end of the generated m_jj range (TeV).</summary>
    public double MjjMin { get; init; } = 2.6;

    /// <summary>Upper end of the generated m_jj range (TeV).</summary>
    public double MjjMax { get; init; } = 6.5;

    /// <summary>Dijet-function exponent p₁ of (1 − x)^p₁.</summary>
    public double P1 { get; init; } = 10.0;

    /// <summary>Dijet-function exponent p₂ of x^−(p₂ + p₃ ln x).</summary>
    public double P2 { get; init; } = 5.0;

    /// <summary>Dijet-function coefficient p₃ of x^−(p₂ + p₃ ln x).</summary>
    public double P3 { get; init; }

    /// <summary>Lower edge of the signal region (TeV).</summary>
    public double SignalRegionLow { get; init; } = 3.3;

    /// <summary>Upper edge of the signal region (TeV).</summary>
    public double SignalRegionHigh { get; init; } = 3.7;

    /// <summary>Resonance mass m_W' (TeV).</summary>
    public double ResonanceMass { get; init; } = 3.5;

    /// <summary>Mass of the heavier daughter X (TeV).</summary>
    public double MassX { get; init; } = 0.5;

    /// <summary>Mass of the lighter daughter Y (TeV).</summary>
    public double MassY { get; init; } = 0.1;

    /// <summary>Relative Gaussian resolution of the reconstructed m_jj of signal events (0.047: 77 % inside 3.3–3.7 TeV).</summary>
    public double MjjResolution { get; init; } = 0.047;

    /// <summary>Relative Gaussian resolution of the reconstructed jet masses of signal jets.</summary>
    public double JetMassResolution { get; init; } = 0.12;

    /// <summary>Probability that a signal jet loses part of its mass (out-of-cone radiation): its mass is scaled by U(0.6, 1).</summary>
    public double JetMassTailFraction { get; init; } = 0.2;

    /// <summary>Mean τ21 of the two-prong signal jets (Beta-distributed; QCD jets sit near 0.68).</summary>
    public double SignalTau21Mean { get; init; } = 0.45;

    /// <summary>Median QCD jet mass as a fraction of m_jj (jet mass grows with jet p_T ≈ m_jj/2).</summary>
    public double QcdJetMassFraction { get; init; } = 0.025;

    /// <summary>Width of log(QCD jet mass) around its median.</summary>
    public double QcdJetMassLogWidth { get; init; } = 0.7;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (BackgroundEvents < 0) throw new ArgumentException($"BackgroundEvents must be ≥ 0, got {BackgroundEvents}");
        if (SignalEvents < 0) throw new ArgumentException($"SignalEvents must be ≥ 0, got {SignalEvents}");
        if (!(SqrtS > 0)) throw new ArgumentException($"SqrtS must be > 0, got {SqrtS}");
        if (!(MjjMin > 0 && MjjMax > MjjMin && MjjMax < SqrtS)) throw new ArgumentException($"need 0 < MjjMin < MjjMax < SqrtS, got {MjjMin}, {MjjMax}, {SqrtS}");
        if (!(SignalRegionLow > MjjMin && SignalRegionHigh > SignalRegionLow && SignalRegionHigh < MjjMax))
            throw new ArgumentException($"the signal region [{SignalRegionLow}, {SignalRegionHigh}] must lie strictly inside the m_jj range [{MjjMin}, {MjjMax}] (sidebands on both sides)");
        if (!(ResonanceMass > 0 && MassX > 0 && MassY > 0 && MassX + MassY < ResonanceMass)) throw new ArgumentException("need positive masses with MassX + MassY < ResonanceMass");
        if (!(MjjResolution > 0 && JetMassResolution > 0)) throw new ArgumentException("resolutions must be > 0");
        if (!(SignalTau21Mean > 0 && SignalTau21Mean < 1)) throw new ArgumentException($"SignalTau21Mean must lie in (0, 1), got {SignalTau21Mean}");
        if (!(JetMassTailFraction >= 0 && JetMassTailFraction <= 1)) throw new ArgumentException($"JetMassTailFraction must lie in [0, 1], got {JetMassTailFraction}");
        if (!(QcdJetMassFraction > 0 && QcdJetMassLogWidth > 0)) throw new ArgumentException("QcdJetMassFraction and QcdJetMassLogWidth must be > 0");
    }
}

/// <summary>
/// A set of dijet events: the resonance variable m_jj, the four auxiliary features x = (m_j1, Δm_j, τ21_j1, τ21_j2)
/// as columns (<c>Features[j][i]</c>: feature j of event i; j1 the lighter jet, Δm_j = m_j2 − m_j1 ≥ 0, masses in
/// TeV) and the truth label (true for signal; unknown to the data-driven methods).
/// </summary>
public sealed class BumpHuntEvents
{
    /// <summary>Names of the four features, in column order.</summary>
    public static IReadOnlyList<string> FeatureNames { get; } = ["mj1", "dmj", "tau21_j1", "tau21_j2"];

    /// <summary>Wraps arrays (not copied); all must have the same length.</summary>
    public BumpHuntEvents(double[] mjj, double[][] features, bool[] isSignal)
    {
        ArgumentNullException.ThrowIfNull(mjj);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(isSignal);
        if (features.Length != FeatureNames.Count) throw new ArgumentException($"{features.Length} feature columns, expected {FeatureNames.Count} ({string.Join(", ", FeatureNames)})");
        for (int j = 0; j < features.Length; j++)
            if (features[j] is null || features[j].Length != mjj.Length) throw new ArgumentException($"feature column {FeatureNames[j]} has {features[j]?.Length ?? 0} events, m_jj has {mjj.Length}");
        if (isSignal.Length != mjj.Length) throw new ArgumentException($"{isSignal.Length} labels for {mjj.Length} events");
        Mjj = mjj; Features = features; IsSignal = isSignal;
    }

    /// <summary>m_jj of each event (TeV).</summary>
    public double[] Mjj { get; }

    /// <summary>The feature columns.</summary>
    public double[][] Features { get; }

    /// <summary>Truth: true for signal events.</summary>
    public bool[] IsSignal { get; }

    /// <summary>Number of events.</summary>
    public int Count => Mjj.Length;

    /// <summary>Number of signal events.</summary>
    public int SignalCount => IsSignal.Count(s => s);

    /// <summary>Indices of the events with <paramref name="low"/> ≤ m_jj &lt; <paramref name="high"/>.</summary>
    public int[] RowsInside(double low, double high) => Enumerable.Range(0, Count).Where(i => Mjj[i] >= low && Mjj[i] < high).ToArray();

    /// <summary>Indices of the events outside [<paramref name="low"/>, <paramref name="high"/>) (the sidebands).</summary>
    public int[] RowsOutside(double low, double high) => Enumerable.Range(0, Count).Where(i => Mjj[i] < low || Mjj[i] >= high).ToArray();

    /// <summary>The events <paramref name="rows"/>, in that order (copied).</summary>
    public BumpHuntEvents Subset(IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var f = Features.Select(c => rows.Select(i => c[i]).ToArray()).ToArray();
        return new BumpHuntEvents(rows.Select(i => Mjj[i]).ToArray(), f, rows.Select(i => IsSignal[i]).ToArray());
    }

    /// <summary>This set followed by <paramref name="other"/>.</summary>
    public BumpHuntEvents Concat(BumpHuntEvents other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new BumpHuntEvents([.. Mjj, .. other.Mjj], Features.Select((c, j) => (double[])[.. c, .. other.Features[j]]).ToArray(), [.. IsSignal, .. other.IsSignal]);
    }

    /// <summary>The events in a random order (seeded).</summary>
    public BumpHuntEvents Shuffled(Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        return Subset(rng.Permutation(Count));
    }

    /// <summary>A table with columns mjj, the four features and "label" (1 signal, 0 background).</summary>
    public Table ToTable()
    {
        string[] cols = ["mjj", .. FeatureNames, "label"];
        var v = new double[Count * cols.Length];
        for (int i = 0; i < Count; i++)
        {
            int o = i * cols.Length;
            v[o] = Mjj[i];
            for (int j = 0; j < 4; j++) v[o + 1 + j] = Features[j][i];
            v[o + 5] = IsSignal[i] ? 1 : 0;
        }
        return new Table(cols, v, Count);
    }

    /// <summary>
    /// Reads events from a table with columns mjj, mj1, dmj, tau21_j1, tau21_j2 and optionally label (1 = signal; all
    /// background when absent). Throws naming a missing column or a bad label.
    /// </summary>
    public static BumpHuntEvents FromTable(Table table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int Col(string name, bool required)
        {
            int k = Array.IndexOf(table.Columns, name);
            if (k < 0 && required) throw new ArgumentException($"the bump-hunt table needs a column '{name}' (has: {string.Join(", ", table.Columns)})");
            return k;
        }
        int cm = Col("mjj", true);
        var fc = FeatureNames.Select(n => Col(n, true)).ToArray();
        int cl = Col("label", false);
        int n = table.Rows;
        var mjj = new double[n];
        var f = Enumerable.Range(0, 4).Select(_ => new double[n]).ToArray();
        var lab = new bool[n];
        for (int i = 0; i < n; i++)
        {
            mjj[i] = table[i, cm];
            for (int j = 0; j < 4; j++) f[j][i] = table[i, fc[j]];
            if (cl >= 0)
            {
                double l = table[i, cl];
                if (l != 0 && l != 1) throw new ArgumentException($"row {i}: label must be 0 or 1, got {l.ToString(CultureInfo.InvariantCulture)}");
                lab[i] = l == 1;
            }
        }
        return new BumpHuntEvents(mjj, f, lab);
    }
}

/// <summary>
/// The standard dijet fit function f(m) ∝ (1 − x)^p₁ / x^(p₂ + p₃ ln x), x = m/√s, normalised on [m_min, m_max]:
/// density, cumulative distribution (tabulated on a fine grid, trapezoid rule) and inverse-CDF sampling.
/// </summary>
public sealed class DijetSpectrum
{
    private const int Grid = 20_000;
    private readonly double[] _m, _cdf;
    private readonly double _norm;

    /// <summary>The spectrum of <paramref name="options"/> (its √s, p₁, p₂, p₃ and m_jj range).</summary>
    public DijetSpectrum(BumpHuntOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _m = new double[Grid + 1];
        _cdf = new double[Grid + 1];
        double h = (options.MjjMax - options.MjjMin) / Grid;
        double prev = Unnormalised(options.MjjMin);
        _m[0] = options.MjjMin;
        for (int k = 1; k <= Grid; k++)
        {
            _m[k] = options.MjjMin + k * h;
            double cur = Unnormalised(_m[k]);
            _cdf[k] = _cdf[k - 1] + 0.5 * h * (prev + cur);
            prev = cur;
        }
        _norm = _cdf[Grid];
        for (int k = 0; k <= Grid; k++) _cdf[k] /= _norm;
    }

    /// <summary>The settings the spectrum was built from.</summary>
    public BumpHuntOptions Options { get; }

    /// <summary>The normalised density at <paramref name="m"/> (TeV⁻¹; 0 outside the range).</summary>
    public double Density(double m) => m < Options.MjjMin || m > Options.MjjMax ? 0 : Unnormalised(m) / _norm;

    /// <summary>P(m_jj &lt; <paramref name="m"/>).</summary>
    public double Cdf(double m)
    {
        if (m <= Options.MjjMin) return 0;
        if (m >= Options.MjjMax) return 1;
        double h = (Options.MjjMax - Options.MjjMin) / Grid;
        int k = Math.Min((int)((m - Options.MjjMin) / h), Grid - 1);
        // exact trapezoid integral of the linear interpolant of f on cell k
        double f0 = Unnormalised(_m[k]) / _norm, f1 = Unnormalised(_m[k + 1]) / _norm, t = m - _m[k];
        return _cdf[k] + t * f0 + 0.5 * t * t * (f1 - f0) / h;
    }

    /// <summary>Fraction of the background in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public double Fraction(double low, double high) => Cdf(high) - Cdf(low);

    /// <summary>One m_jj drawn from the spectrum restricted to [<paramref name="low"/>, <paramref name="high"/>] (the whole range by default).</summary>
    public double Sample(Rng rng, double? low = null, double? high = null)
    {
        double a = Cdf(low ?? Options.MjjMin), b = Cdf(high ?? Options.MjjMax);
        return Quantile(a + (b - a) * rng.NextDouble());
    }

    /// <summary>The m with P(m_jj &lt; m) = <paramref name="u"/> (inverting the piecewise-quadratic CDF of the tabulated density).</summary>
    public double Quantile(double u)
    {
        u = Math.Clamp(u, 0, 1);
        int k = Array.BinarySearch(_cdf, u);
        if (k >= 0) return _m[k];
        k = Math.Clamp(~k - 1, 0, Grid - 1);
        double h = _m[k + 1] - _m[k];
        double f0 = Unnormalised(_m[k]) / _norm, f1 = Unnormalised(_m[k + 1]) / _norm;
        double r = u - _cdf[k], a = 0.5 * (f1 - f0) / h;
        double t = Math.Abs(a) < 1e-300 ? r / f0 : (-f0 + Math.Sqrt(Math.Max(f0 * f0 + 4 * a * r, 0))) / (2 * a);
        return _m[k] + Math.Clamp(t, 0, h);
    }

    private double Unnormalised(double m)
    {
        double x = m / Options.SqrtS;
        double lx = Math.Log(x);
        return Math.Exp(Options.P1 * Math.Log(1 - x) - (Options.P2 + Options.P3 * lx) * lx);
    }
}

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
