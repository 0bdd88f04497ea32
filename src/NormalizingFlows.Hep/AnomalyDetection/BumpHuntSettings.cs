namespace NormalizingFlows.Hep.AnomalyDetection;

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
