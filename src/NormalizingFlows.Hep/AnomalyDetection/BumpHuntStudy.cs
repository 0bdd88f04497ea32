using System.Diagnostics;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>The anomaly detectors and baselines of a bump hunt.</summary>
public enum BumpHuntMethod
{
    /// <summary>Classifier of true signal against true background in the signal region (labels known): the upper limit.</summary>
    Supervised,
    /// <summary>Idealized anomaly detector: classifier of signal-region data against a perfect background sample from the generator.</summary>
    Idealized,
    /// <summary>CATHODE: classifier of signal-region data against synthetic background from the sideband flow.</summary>
    Cathode,
    /// <summary>ANODE: density ratio p_inner/p_outer.</summary>
    Anode,
    /// <summary>CWoLa hunting: classifier of signal-region data against neighbouring sideband data.</summary>
    CWoLa,
    /// <summary>Uniformly random scores.</summary>
    Random,
}

/// <summary>Settings of a bump-hunt study (<see cref="BumpHuntStudy"/>).</summary>
public sealed record BumpHuntSettings
{
    /// <summary>The synthetic data set.</summary>
    public BumpHuntOptions Data { get; init; } = new();

    /// <summary>The outer and inner density estimators.</summary>
    public DensityEstimatorOptions Flow { get; init; } = new();

    /// <summary>The classifier ensembles (CATHODE, idealized, CWoLa, supervised).</summary>
    public EnsembleOptions Classifier { get; init; } = new();

    /// <summary>Synthetic (CATHODE) and perfect (idealized) background events per signal-region data event.</summary>
    public int Oversampling { get; init; } = 4;

    /// <summary>Width (TeV) of the sideband bands on each side of the signal region that CWoLa hunting compares against.</summary>
    public double CWoLaSidebandWidth { get; init; } = 0.2;

    /// <summary>
    /// Simulated signal events (in the signal region) added to every training fold of the supervised classifier
    /// (never scored); 0: the supervised classifier learns from the SR events' true labels alone.
    /// </summary>
    public int SupervisedExtraSignal { get; init; } = 10_000;

    /// <summary>Folds of ANODE's cross-fitted inner flow.</summary>
    public int AnodeInnerFolds { get; init; } = 2;

    /// <summary>
    /// SIC guard: a ROC point counts only when its background efficiency rests on at least this many background events
    /// (25: the relative statistical error of ε_B is at most 20 %, as the CATHODE paper's cut).
    /// </summary>
    public int MinBackgroundEvents { get; init; } = 25;
}

/// <summary>The figures of merit of one method's scores on the signal-region events.</summary>
/// <param name="Method">The method.</param>
/// <param name="Roc">ROC curve (signal positive).</param>
/// <param name="Sic">SIC curve ε_S/√ε_B (with the background-count guard).</param>
/// <param name="MaxSic">Maximum of the SIC curve.</param>
/// <param name="RejectionAt20">Background rejection 1/ε_B at ε_S = 0.2.</param>
/// <param name="RejectionAt50">Background rejection 1/ε_B at ε_S = 0.5.</param>
/// <param name="Seconds">Wall time of the method (training included; a shared outer flow is counted once, by the first method that needs it).</param>
public sealed record MethodResult(BumpHuntMethod Method, RocCurve Roc, SicCurve Sic, double MaxSic, double RejectionAt20, double RejectionAt50, double Seconds)
{
    /// <summary>The AUC of signal against background.</summary>
    public double Auc => Roc.Auc;

    /// <summary>ROC and SIC of per-event <paramref name="scores"/> with truth labels (signal positive).</summary>
    public static MethodResult Evaluate(BumpHuntMethod method, double[] scores, bool[] isSignal, int minBackgroundEvents = 25, double seconds = 0)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(isSignal);
        var roc = Evaluation.Roc.Compute(scores, isSignal);
        var sic = Evaluation.Roc.Sic(roc, minBackgroundEvents);
        return new MethodResult(method, roc, sic, sic.MaxSic, Evaluation.Roc.RejectionAt(roc, 0.2), Evaluation.Roc.RejectionAt(roc, 0.5), seconds);
    }
}

/// <summary>One realisation of a bump hunt: data set counts, per-method results and diagnostics.</summary>
/// <param name="Seed">Seed of the data and every training.</param>
/// <param name="SignalRegionBackground">Background events in the signal region.</param>
/// <param name="SignalRegionSignal">Signal events in the signal region.</param>
/// <param name="SidebandEvents">Events in the sidebands.</param>
/// <param name="Methods">The methods' results, in the order run.</param>
/// <param name="Scores">Per method, the scores of the signal-region events (aligned with <see cref="SignalRegionIsSignal"/>).</param>
/// <param name="SignalRegionIsSignal">Truth labels of the signal-region events.</param>
/// <param name="Cathode">CATHODE's internals (synthetic sample, classifier), when run.</param>
/// <param name="SignalRegion">The signal-region events.</param>
public sealed record BumpHuntRun(long Seed, int SignalRegionBackground, int SignalRegionSignal, int SidebandEvents,
    IReadOnlyList<MethodResult> Methods, IReadOnlyDictionary<BumpHuntMethod, double[]> Scores, bool[] SignalRegionIsSignal,
    CathodeResult? Cathode, BumpHuntEvents SignalRegion)
{
    /// <summary>S/√B in the signal region before any cut.</summary>
    public double Significance => SignalRegionSignal / Math.Sqrt(Math.Max(SignalRegionBackground, 1));
}

/// <summary>Mean and sample standard deviation of one figure over the seeds.</summary>
/// <param name="Mean">Mean over the seeds.</param>
/// <param name="Spread">Sample standard deviation over the seeds (0 for one seed).</param>
/// <param name="Values">The per-seed values.</param>
public sealed record SeedStatistic(double Mean, double Spread, double[] Values)
{
    /// <summary>The statistic of <paramref name="values"/>.</summary>
    public static SeedStatistic Of(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return new SeedStatistic(double.NaN, double.NaN, v);
        double m = v.Average();
        double s = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0;
        return new SeedStatistic(m, s, v);
    }
}

/// <summary>Per-method figures averaged over several seeds.</summary>
/// <param name="Method">The method.</param>
/// <param name="MaxSic">Max SIC.</param>
/// <param name="Auc">AUC.</param>
/// <param name="RejectionAt20">1/ε_B at ε_S = 0.2.</param>
/// <param name="RejectionAt50">1/ε_B at ε_S = 0.5.</param>
/// <param name="Seconds">Wall time per run.</param>
public sealed record MethodSummary(BumpHuntMethod Method, SeedStatistic MaxSic, SeedStatistic Auc, SeedStatistic RejectionAt20, SeedStatistic RejectionAt50, SeedStatistic Seconds);

/// <summary>
/// Runs the bump hunt of the seeds end to end: generate the synthetic LHCO-like sample, split it into signal region
/// (SR) and sidebands (SB), run the requested methods on the same events and score every SR event out of fold, and
/// compute ROC, SIC = ε_S/√ε_B, max SIC and background rejection against the truth labels; several seeds give means
/// and spreads (<see cref="Summarise"/>).
/// </summary>
public static class BumpHuntStudy
{
    /// <summary>All methods, in plotting order.</summary>
    public static IReadOnlyList<BumpHuntMethod> AllMethods { get; } =
        [BumpHuntMethod.Supervised, BumpHuntMethod.Idealized, BumpHuntMethod.Cathode, BumpHuntMethod.Anode, BumpHuntMethod.CWoLa, BumpHuntMethod.Random];

    /// <summary>Generates the data of <paramref name="seed"/> and runs <paramref name="methods"/> on it.</summary>
    public static BumpHuntRun Run(BumpHuntSettings settings, IReadOnlyCollection<BumpHuntMethod> methods, long seed, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var generator = new BumpHuntGenerator(settings.Data);
        var events = generator.Generate(new Rng(seed));
        return Run(events, generator, settings, methods, seed, log);
    }

    /// <summary>
    /// Runs <paramref name="methods"/> on given <paramref name="events"/>. <paramref name="generator"/> supplies the
    /// perfect background of the idealized detector (required for it). Labels are used only by the supervised
    /// method and the evaluation.
    /// </summary>
    public static BumpHuntRun Run(BumpHuntEvents events, BumpHuntGenerator? generator, BumpHuntSettings settings,
        IReadOnlyCollection<BumpHuntMethod> methods, long seed, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(methods);
        var d = settings.Data;
        double lo = d.SignalRegionLow, hi = d.SignalRegionHigh;
        var sr = events.Subset(events.RowsInside(lo, hi));
        var sb = events.Subset(events.RowsOutside(lo, hi));
        int srSig = sr.SignalCount;
        if (srSig == 0 && methods.Contains(BumpHuntMethod.Supervised))
            throw new ArgumentException("the supervised baseline needs signal events in the signal region (the sample has none)");
        log?.Invoke($"seed {seed}: SR {sr.Count - srSig} background + {srSig} signal (S/√B = {srSig / Math.Sqrt(Math.Max(1, sr.Count - srSig)):F2}), SB {sb.Count} events");
        var flow = settings.Flow with { Seed = unchecked(settings.Flow.Seed + seed * 7919) };
        var clf = settings.Classifier with { Classifier = settings.Classifier.Classifier with { Seed = unchecked(settings.Classifier.Classifier.Seed + seed * 104_729) } };
        var prep = methods.Contains(BumpHuntMethod.Cathode) || methods.Contains(BumpHuntMethod.Anode) ? BumpHuntPreprocessing.Fit(events) : null;
        ConditionalDensityEstimator? outer = null;
        CathodeResult? cathode = null;
        var results = new List<MethodResult>();
        var scores = new Dictionary<BumpHuntMethod, double[]>();
        foreach (var m in AllMethods.Where(methods.Contains))
        {
            var clock = Stopwatch.StartNew();
            double[] s;
            switch (m)
            {
                case BumpHuntMethod.Supervised:
                {
                    // k-fold on the SR events with their true labels; simulated signal (never scored) joins every
                    // training fold when the generator is at hand, as a simulation-based classifier would have
                    var train = sr;
                    if (generator is not null && settings.SupervisedExtraSignal > 0)
                    {
                        var sim = generator.Signal(4 * settings.SupervisedExtraSignal, new Rng(unchecked(seed ^ 0x5167A1L)));
                        var inSr = sim.RowsInside(lo, hi);
                        train = sr.Concat(sim.Subset(inSr.Take(settings.SupervisedExtraSignal).ToArray()));
                    }
                    s = CrossFittedEnsemble.Fit(train.Features, train.IsSignal, clf, trainOnlyFrom: sr.Count).OutOfFold[..sr.Count];
                    break;
                }
                case BumpHuntMethod.Idealized:
                {
                    if (generator is null) throw new ArgumentException("the idealized anomaly detector needs the generator (a perfect background sample)");
                    var perfect = generator.Background(checked(settings.Oversampling * sr.Count), new Rng(unchecked(seed ^ 0x1DEA1L)), lo, hi);
                    s = Cathode.ClassifyAgainst(sr.Features, perfect.Features, clf).DataScores;
                    break;
                }
                case BumpHuntMethod.Cathode:
                    outer ??= FitOuter(sb, prep!, flow, log);
                    cathode = Cathode.Run(sb, sr, prep!, lo, hi, flow, clf, settings.Oversampling, seed, outer);
                    s = cathode.Scores;
                    log?.Invoke(FormattableString.Invariant($"  CATHODE classifier, SR data vs synthetic background (out of fold): AUC {Evaluation.Roc.Auc([.. cathode.Scores, .. cathode.SyntheticScores], [.. Enumerable.Repeat(true, cathode.Scores.Length), .. Enumerable.Repeat(false, cathode.SyntheticScores.Length)]):F4}"));
                    break;
                case BumpHuntMethod.Anode:
                    outer ??= FitOuter(sb, prep!, flow, log);
                    s = Anode.Run(sb, sr, prep!, flow, settings.AnodeInnerFolds, outer).Scores;
                    break;
                case BumpHuntMethod.CWoLa:
                {
                    double w = settings.CWoLaSidebandWidth;
                    var near = events.Subset(Enumerable.Range(0, events.Count)
                        .Where(i => (events.Mjj[i] >= lo - w && events.Mjj[i] < lo) || (events.Mjj[i] >= hi && events.Mjj[i] < hi + w)).ToArray());
                    s = Cathode.ClassifyAgainst(sr.Features, near.Features, clf).DataScores;
                    break;
                }
                case BumpHuntMethod.Random:
                {
                    var rng = new Rng(unchecked(seed ^ 0x7A4D0L));
                    s = Enumerable.Range(0, sr.Count).Select(_ => rng.NextDouble()).ToArray();
                    break;
                }
                default: throw new ArgumentOutOfRangeException(nameof(methods), m, "unknown method");
            }
            scores[m] = s;
            if (srSig > 0 && srSig < sr.Count)
            {
                var r = MethodResult.Evaluate(m, s, sr.IsSignal, settings.MinBackgroundEvents, clock.Elapsed.TotalSeconds);
                results.Add(r);
                log?.Invoke($"  {m,-10} max SIC {r.MaxSic,6:F2}  AUC {r.Auc:F3}  1/εB@εS=0.2 {r.RejectionAt20,8:F1}  ({r.Seconds:F0} s)");
            }
        }
        return new BumpHuntRun(seed, sr.Count - srSig, srSig, sb.Count, results, scores, sr.IsSignal, cathode, sr);
    }

    private static ConditionalDensityEstimator FitOuter(BumpHuntEvents sb, BumpHuntPreprocessing prep, DensityEstimatorOptions flow, Action<string>? log)
    {
        var clock = Stopwatch.StartNew();
        var outer = ConditionalDensityEstimator.Fit(sb, prep, flow);
        log?.Invoke($"  outer flow on {sb.Count} SB events: {outer.History.Epochs.Count} epochs, best validation log-likelihood {outer.BestValidationLogLikelihood:F4}, {clock.Elapsed.TotalSeconds:F0} s");
        return outer;
    }

    /// <summary>Mean ± spread of every method's figures over the runs.</summary>
    public static IReadOnlyList<MethodSummary> Summarise(IReadOnlyList<BumpHuntRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return AllMethods
            .Select(m => (m, rs: runs.SelectMany(r => r.Methods.Where(x => x.Method == m)).ToArray()))
            .Where(t => t.rs.Length > 0)
            .Select(t => new MethodSummary(t.m, SeedStatistic.Of(t.rs.Select(r => r.MaxSic)), SeedStatistic.Of(t.rs.Select(r => r.Auc)),
                SeedStatistic.Of(t.rs.Select(r => r.RejectionAt20)), SeedStatistic.Of(t.rs.Select(r => r.RejectionAt50)), SeedStatistic.Of(t.rs.Select(r => r.Seconds))))
            .ToList();
    }
}
