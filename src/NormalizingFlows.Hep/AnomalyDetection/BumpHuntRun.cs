namespace NormalizingFlows.Hep.AnomalyDetection;

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
