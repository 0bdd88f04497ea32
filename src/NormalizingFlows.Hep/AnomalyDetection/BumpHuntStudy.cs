using System.Diagnostics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.AnomalyDetection;

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
