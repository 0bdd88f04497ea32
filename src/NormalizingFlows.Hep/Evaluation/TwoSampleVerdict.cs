namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// A two-sample test by two judges on the same samples and the same stratified folds: the MLP and gradient-boosted
/// trees. Neither judge finds every difference (trees catch discrete atoms and sharp edges in single features, the
/// MLP smooth correlations), so the headline is the larger AUC. Under identical distributions the larger of two
/// AUCs sits on average about half a standard error above 0.5 (the two are correlated, so less than for
/// independent tests); quote both when that matters.
/// </summary>
/// <param name="Mlp">The test with the <see cref="MlpClassifier"/>.</param>
/// <param name="Trees">The test with <see cref="GradientBoostedTrees"/>.</param>
public sealed record TwoSampleVerdict(TwoSampleTestResult Mlp, TwoSampleTestResult Trees)
{
    /// <summary>The judge with the larger AUC (the MLP on a tie).</summary>
    public TwoSampleTestResult Headline => Trees.Auc > Mlp.Auc ? Trees : Mlp;

    /// <summary>The headline AUC (the larger of the two).</summary>
    public double Auc => Headline.Auc;

    /// <summary>The headline AUC's standard error.</summary>
    public double AucError => Headline.AucError;

    /// <summary>Both tests, MLP first.</summary>
    public IReadOnlyList<TwoSampleTestResult> Judges => [Mlp, Trees];

    /// <summary>
    /// One line: "AUC 0.6123 ± 0.0041 (GBDT, the larger; MLP 0.5512 ± 0.0043)" with the given number format.
    /// </summary>
    public string Describe(string format = "F4")
    {
        var other = ReferenceEquals(Headline, Mlp) ? Trees : Mlp;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return $"AUC {Headline.Auc.ToString(format, inv)} ± {Headline.AucError.ToString(format, inv)} ({Headline.Judge}, the larger; " +
            $"{other.Judge} {other.Auc.ToString(format, inv)} ± {other.AucError.ToString(format, inv)})";
    }
}
