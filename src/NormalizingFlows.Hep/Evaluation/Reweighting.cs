namespace NormalizingFlows.Hep.Evaluation;

/// <summary>Settings of classifier-based (DCTR) reweighting.</summary>
public sealed record ReweightingOptions
{
    /// <summary>The classifier and its cross-fitting.</summary>
    public ClassifierOptions Classifier { get; init; } = new();

    /// <summary>
    /// The second judge of the two-sample test the result reports (<see cref="ReweightingResult.Verdict"/>), run on the
    /// same folds; null: the MLP only. The weights always come from the MLP (smooth in x, unlike a sum of trees).
    /// </summary>
    public GradientBoostedTreesOptions? Trees { get; init; } = new();

    /// <summary>Smallest weight kept (smaller ones are raised to it).</summary>
    public double MinWeight { get; init; } = 0.01;

    /// <summary>Largest weight kept (larger ones are lowered to it).</summary>
    public double MaxWeight { get; init; } = 100;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Classifier);
        if (!(MinWeight >= 0 && MaxWeight > MinWeight && double.IsFinite(MaxWeight)))
            throw new ArgumentException($"weight range [{MinWeight}, {MaxWeight}] must satisfy 0 ≤ min < max < ∞");
    }
}

/// <summary>The result of DCTR reweighting.</summary>
/// <param name="Weights">Per-event weights of the generated events, w = D/(1 − D), clipped and normalised to (weighted) mean 1.</param>
/// <param name="DataDensityRatio">w = p_data/p_gen estimated at each data event (calibrated and clipped, not normalised): what DiscFlow needs.</param>
/// <param name="Test">The classifier two-sample test the weights come from (its AUC says how far apart the samples were).</param>
/// <param name="Clipped">Number of generated events whose weight was clipped.</param>
/// <param name="EffectiveSampleSize">Kish effective size (Σw)²/Σw² of the weighted generated sample.</param>
public sealed record ReweightingResult(double[] Weights, double[] DataDensityRatio, TwoSampleTestResult Test, int Clipped, double EffectiveSampleSize)
{
    /// <summary>The two-judge verdict (MLP = <see cref="Test"/>, and gradient-boosted trees on the same folds); null when <see cref="ReweightingOptions.Trees"/> is null.</summary>
    public TwoSampleVerdict? Verdict { get; init; }
}

/// <summary>
/// Classifier-based reweighting (DCTR; Andreassen &amp; Nachman 2020, for generative models DCTRGAN, Diefenbacher et
/// al. arXiv:2009.03796, quoted in the seeds): a classifier trained on data (label 1) against generated events
/// (label 0) approximates D(x) = p_data/(p_data + p_gen) (Neyman–Pearson), so w(x) = D/(1 − D) = p_data(x)/p_gen(x)
/// corrects the generated distribution towards the data.
/// <para>
/// Calibration: the classes are balanced by loss weights (equal total weight), so the prior odds are 1 and a perfect
/// generator gives w ≈ 1; with <see cref="ClassifierOptions.BalanceClasses"/> off the odds are multiplied by
/// W_gen/W_data to undo the class-size ratio. w = e^z is taken from the logit z (no 1 − D cancellation).
/// </para>
/// <para>
/// Out-of-fold: every event's weight comes from the cross-fitted model that did not train on it (so weights do not
/// memorise the fluctuations of the events they weight). To weight new events, fit an <see cref="MlpClassifier"/> on
/// all events and use e^z.
/// </para>
/// </summary>
public static class Reweighting
{
    /// <summary>Fits the classifier (data = 1, generated = 0) and returns weights for the generated events.</summary>
    public static ReweightingResult Dctr(double[][] data, double[][] generated, ReweightingOptions? options = null,
        double[]? dataWeights = null, double[]? generatedWeights = null)
    {
        options ??= new ReweightingOptions();
        options.Validate();
        var test = ClassifierTwoSampleTest.Run(data, generated, options.Classifier, dataWeights, generatedWeights);
        double prior = 0;
        if (!options.Classifier.BalanceClasses)
        {
            double wd = dataWeights?.Sum() ?? test.LogitsA.Length, wg = generatedWeights?.Sum() ?? test.LogitsB.Length;
            prior = Math.Log(wg / wd);
        }
        var w = WeightsFromLogits(test.LogitsB, prior, options.MinWeight, options.MaxWeight, out int clipped);
        // normalise to (weighted) mean 1 over the generated events; Kish effective size of the result
        double sgw = 0, sw = 0;
        for (int i = 0; i < w.Length; i++) { double g = generatedWeights?[i] ?? 1; sgw += g; sw += g * w[i]; }
        double scale = sgw / sw, sum = 0, sum2 = 0;
        for (int i = 0; i < w.Length; i++)
        {
            w[i] *= scale;
            double gw = (generatedWeights?[i] ?? 1) * w[i];
            sum += gw; sum2 += gw * gw;
        }
        var ratio = WeightsFromLogits(test.LogitsA, prior, options.MinWeight, options.MaxWeight, out _);
        TwoSampleVerdict? verdict = options.Trees is null ? null : new TwoSampleVerdict(test,
            ClassifierTwoSampleTest.RunTrees(data, generated, options.Trees, options.Classifier.Folds, options.Classifier.Seed, dataWeights, generatedWeights));
        return new ReweightingResult(w, ratio, test, clipped, sum * sum / sum2) { Verdict = verdict };
    }

    /// <summary>
    /// w = exp(z + logPriorCorrection) clipped to [<paramref name="min"/>, <paramref name="max"/>]: the density ratio
    /// from classifier logits (z = log[D/(1 − D)]).
    /// </summary>
    public static double[] WeightsFromLogits(ReadOnlySpan<double> logits, double logPriorCorrection, double min, double max, out int clipped)
    {
        var w = new double[logits.Length];
        clipped = 0;
        for (int i = 0; i < w.Length; i++)
        {
            double v = Math.Exp(logits[i] + logPriorCorrection);
            if (double.IsNaN(v)) v = 1;
            if (v < min) { v = min; clipped++; }
            else if (v > max) { v = max; clipped++; }
            w[i] = v;
        }
        return w;
    }
}
