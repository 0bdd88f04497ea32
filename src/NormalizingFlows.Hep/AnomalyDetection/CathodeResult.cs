namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>The outcome of <see cref="Cathode.Run"/>.</summary>
/// <param name="Scores">Out-of-fold classifier output D(x) of each signal-region data event (higher: more anomalous).</param>
/// <param name="SyntheticMjj">m_jj of the synthetic background events (drawn from the signal-region m_jj density).</param>
/// <param name="SyntheticFeatures">Their features, sampled from the outer flow.</param>
/// <param name="SyntheticScores">Out-of-fold classifier output of the synthetic events.</param>
/// <param name="Classifier">The k-fold classifier ensemble (data label 1, synthetic label 0).</param>
/// <param name="Outer">The sideband density estimator.</param>
public sealed record CathodeResult(double[] Scores, double[] SyntheticMjj, double[][] SyntheticFeatures, double[] SyntheticScores,
    CrossFittedEnsemble Classifier, ConditionalDensityEstimator Outer);
