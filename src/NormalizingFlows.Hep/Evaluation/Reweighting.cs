namespace NormalizingFlows.Hep.Evaluation;

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
