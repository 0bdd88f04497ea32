using NormalizingFlows.Hep.Evaluation;

namespace NormalizingFlows.Hep.AnomalyDetection;

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
