namespace NormalizingFlows.Hep.Integration;

/// <summary>Settings of <see cref="Vegas"/>.</summary>
public sealed record VegasOptions
{
    /// <summary>Grid bins per dimension N (default 64).</summary>
    public int Bins { get; init; } = 64;

    /// <summary>
    /// Damping exponent α of the grid refinement (default 0.75; 0 freezes the grid, larger adapts faster but
    /// noisier; Lepage's 1978 VEGAS used 1.5, vegas 4 uses 0.5).
    /// </summary>
    public double Alpha { get; init; } = 0.75;

    /// <summary>Iterations <see cref="Vegas.Train"/> splits its budget into (one grid refinement after each; default 10).</summary>
    public int TrainIterations { get; init; } = 10;

    /// <summary>Keep refining the grid after every iteration of <see cref="ImportanceSamplingIntegrator.Integrate"/>, as classic VEGAS does (default true).</summary>
    public bool AdaptDuringIntegration { get; init; } = true;

    /// <summary>Throws unless the settings are usable.</summary>
    public void Validate()
    {
        if (Bins < 2) throw new ArgumentOutOfRangeException(nameof(Bins), Bins, "VEGAS needs at least 2 bins per dimension");
        if (!(Alpha >= 0) || !double.IsFinite(Alpha)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "the damping exponent must be ≥ 0");
        if (TrainIterations < 1) throw new ArgumentOutOfRangeException(nameof(TrainIterations), TrainIterations, "need at least one training iteration");
    }
}
