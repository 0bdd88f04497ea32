namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// ANODE (Nachman &amp; Shih, arXiv:2001.04990; the seeds' "Anomaly Detection with Density Estimation"): an outer
/// conditional flow p_outer(x | m_jj) trained on the sidebands and interpolated into the signal region, an inner one
/// p_inner(x | m_jj) trained on the signal region, and the anomaly score R = p_inner/p_outer (here log R). The inner
/// flow is cross-fitted: the signal-region events are split into k folds and each fold is scored by the inner flow
/// trained on the others (a flow scoring its own training events would reward memorisation).
/// </summary>
public static class Anode
{
    /// <summary>
    /// Runs ANODE on <paramref name="sidebands"/> and <paramref name="signalRegion"/> (labels unused). Pass an already
    /// trained <paramref name="outer"/> flow to share it with CATHODE (it must have been trained with the same
    /// <paramref name="preprocessing"/>, so that the preprocessing's Jacobian cancels in the ratio).
    /// </summary>
    public static AnodeResult Run(BumpHuntEvents sidebands, BumpHuntEvents signalRegion, BumpHuntPreprocessing preprocessing,
        DensityEstimatorOptions? flowOptions = null, int innerFolds = 2, ConditionalDensityEstimator? outer = null)
    {
        ArgumentNullException.ThrowIfNull(sidebands);
        ArgumentNullException.ThrowIfNull(signalRegion);
        ArgumentNullException.ThrowIfNull(preprocessing);
        if (innerFolds < 2) throw new ArgumentOutOfRangeException(nameof(innerFolds), innerFolds, "cross-fitting needs at least 2 folds");
        flowOptions ??= new DensityEstimatorOptions();
        if (outer is not null && !ReferenceEquals(outer.Preprocessing, preprocessing))
            throw new ArgumentException("the outer flow was trained with another preprocessing than the one given", nameof(outer));
        outer ??= ConditionalDensityEstimator.Fit(sidebands, preprocessing, flowOptions);
        int n = signalRegion.Count;
        var rng = new Tensors.Rng(unchecked(flowOptions.Seed ^ 0xA90DEL));
        var perm = rng.Permutation(n);
        var fold = new int[n];
        for (int r = 0; r < n; r++) fold[perm[r]] = r % innerFolds;
        var lpOuter = outer.LogProb(signalRegion);
        var scores = new double[n];
        var inner = new ConditionalDensityEstimator[innerFolds];
        for (int f = 0; f < innerFolds; f++)
        {
            var trainRows = Enumerable.Range(0, n).Where(i => fold[i] != f).ToArray();
            var testRows = Enumerable.Range(0, n).Where(i => fold[i] == f).ToArray();
            inner[f] = ConditionalDensityEstimator.Fit(signalRegion.Subset(trainRows), preprocessing,
                flowOptions with { Seed = unchecked(flowOptions.Seed * 31 + 1 + f) });
            var lpInner = inner[f].LogProb(signalRegion.Subset(testRows));
            for (int r = 0; r < testRows.Length; r++)
            {
                int i = testRows[r];
                double s = lpInner[r] - lpOuter[i];
                scores[i] = double.IsNaN(s) ? 0 : s;
            }
        }
        return new AnodeResult(scores, outer, inner, fold);
    }
}
