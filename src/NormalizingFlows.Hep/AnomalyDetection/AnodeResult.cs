namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>The outcome of <see cref="Anode.Run"/>.</summary>
/// <param name="Scores">log R = log p_inner(x | m_jj) − log p_outer(x | m_jj) of each signal-region event (higher: more anomalous).</param>
/// <param name="Outer">The sideband density estimator.</param>
/// <param name="Inner">The signal-region density estimators, one per fold.</param>
/// <param name="Fold">The fold of each signal-region event (scored by the inner flow trained on the other folds).</param>
public sealed record AnodeResult(double[] Scores, ConditionalDensityEstimator Outer, ConditionalDensityEstimator[] Inner, int[] Fold);
