namespace NormalizingFlows.Hep.Inference;

/// <summary>The flow-versus-quadratic comparison on held-out W → ℓν events.</summary>
/// <param name="Events">Held-out events.</param>
/// <param name="SamplesPerEvent">Posterior samples drawn per event.</param>
/// <param name="NoRealRootFraction">Fraction of events whose W-mass constraint has no real solution.</param>
/// <param name="Rows">Resolution and coverage per method and event class.</param>
/// <param name="SampleSeconds">Wall time of the batched posterior sampling alone.</param>
/// <param name="Examples">A few events with their posteriors.</param>
/// <param name="SampleCpuSeconds">CPU time of this process (all threads) during the sampling: robust to other load on the machine.</param>
public sealed record NeutrinoStudyResult(int Events, int SamplesPerEvent, double NoRealRootFraction, PzResolution[] Rows, double SampleSeconds, NeutrinoExample[] Examples,
    double SampleCpuSeconds)
{
    /// <summary>Posteriors sampled per CPU second (all threads): the speed on an otherwise idle core.</summary>
    public double PosteriorsPerCpuSecond => Events / SampleCpuSeconds;

    /// <summary>Posteriors (events) sampled per second.</summary>
    public double PosteriorsPerSecond => Events / SampleSeconds;

    /// <summary>Posterior samples drawn per second.</summary>
    public double SamplesPerSecond => (double)Events * SamplesPerEvent / SampleSeconds;
}
