namespace NormalizingFlows.Hep.Evaluation;

/// <summary>The outcome of a classifier two-sample test of sample A (label 1, e.g. data) against sample B (label 0, e.g. generated).</summary>
/// <param name="Auc">Cross-fitted AUC of the out-of-fold scores (0.5: the classifier cannot tell the samples apart).</param>
/// <param name="AucError">
/// Standard error of the AUC: √(<see cref="DeLongError"/>² + <see cref="FoldError"/>²), the pooled DeLong error and the
/// fold-to-fold spread in quadrature (see <see cref="ClassifierTwoSampleTest"/> for why DeLong alone is too small).
/// </param>
/// <param name="LogitsA">Out-of-fold logits z of the events of A: z ≈ log[p_A(x)/p_B(x)] with class balancing.</param>
/// <param name="LogitsB">Out-of-fold logits z of the events of B.</param>
/// <param name="FoldA">Fold of each event of A (the model of that fold, trained on the other folds, scored it).</param>
/// <param name="FoldB">Fold of each event of B.</param>
/// <param name="FoldAuc">AUC of each fold's events alone.</param>
/// <param name="Roc">ROC curve of the pooled out-of-fold scores (A positive).</param>
/// <param name="EpochsPerFold">Epochs each fold's MLP ran before early stopping (GBDT: trees each fold's model holds).</param>
/// <param name="Seconds">Wall time of the whole test.</param>
public sealed record TwoSampleTestResult(double Auc, double AucError, double[] LogitsA, double[] LogitsB, int[] FoldA, int[] FoldB,
    double[] FoldAuc, RocCurve Roc, int[] EpochsPerFold, double Seconds)
{
    /// <summary>Out-of-fold classifier outputs D(x) = σ(z) for the events of A.</summary>
    public double[] ScoresA => LogitsA.Select(MlpClassifier.Sigmoid).ToArray();

    /// <summary>Out-of-fold classifier outputs D(x) = σ(z) for the events of B.</summary>
    public double[] ScoresB => LogitsB.Select(MlpClassifier.Sigmoid).ToArray();

    /// <summary>(AUC − 0.5)/σ: how many standard errors the samples are apart by this test.</summary>
    public double Significance => (Auc - 0.5) / AucError;

    /// <summary>
    /// DeLong's error of the pooled out-of-fold scores (weighted when event weights are given): the error of one
    /// classifier's AUC, which misses the fold-to-fold variation of the K fitted classifiers.
    /// </summary>
    public double DeLongError => Roc.AucError;

    /// <summary>The fold-level error SD(<see cref="FoldAuc"/>)/√K, each fold's AUC taken on its own held-out events.</summary>
    public double FoldError { get; init; }

    /// <summary>The classifier that judged: "MLP" (<see cref="MlpClassifier"/>) or "GBDT" (<see cref="GradientBoostedTrees"/>).</summary>
    public string Judge { get; init; } = "MLP";

    /// <summary>For each fold, the indices (A first, then B offset by |A|) of the events its classifier trained or early-stopped on.</summary>
    internal int[][] TrainedOn { get; init; } = [];
}
