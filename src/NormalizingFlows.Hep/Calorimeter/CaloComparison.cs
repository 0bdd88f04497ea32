using NormalizingFlows.Hep.Evaluation;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>The comparison of one candidate with the reference: a two-judge classifier test (MLP and GBDT on the same folds) per input.</summary>
/// <param name="Name">The candidate's name.</param>
/// <param name="SecondsPerShower">Generation time per shower (NaN when not timed).</param>
/// <param name="Tests">The verdict of each input that was tested.</param>
public sealed record CaloComparison(string Name, double SecondsPerShower, IReadOnlyDictionary<CaloClassifierInput, TwoSampleVerdict> Tests)
{
    /// <summary>The verdict on one input (throws naming the input when it was not tested).</summary>
    public TwoSampleVerdict this[CaloClassifierInput input] =>
        Tests.TryGetValue(input, out var v) ? v : throw new KeyNotFoundException($"{Name}: the {input} input was not tested");

    /// <summary>The AUC of one judge ("MLP" or "GBDT") on one input.</summary>
    public double Auc(CaloClassifierInput input, string judge) => judge switch
    {
        "MLP" => this[input].Mlp.Auc,
        "GBDT" => this[input].Trees.Auc,
        _ => throw new ArgumentException($"unknown judge '{judge}' (MLP or GBDT)", nameof(judge)),
    };

    /// <summary>The MLP test on the raw voxels (the "unnormalised" AUC of earlier versions).</summary>
    public TwoSampleTestResult Unnormalised => this[CaloClassifierInput.Raw].Mlp;

    /// <summary>The MLP test on the layer-normalised voxels (the "normalised" AUC of earlier versions).</summary>
    public TwoSampleTestResult Normalised => this[CaloClassifierInput.LayerNormalised].Mlp;

    /// <summary>The largest AUC over every input and both judges, with the input and judge it came from.</summary>
    public (double Auc, double AucError, CaloClassifierInput Input, string Judge) Worst =>
        Tests.Select(kv => (kv.Value.Auc, kv.Value.AucError, kv.Key, kv.Value.Headline.Judge)).MaxBy(t => t.Auc);
}
