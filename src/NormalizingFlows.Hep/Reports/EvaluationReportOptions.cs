namespace NormalizingFlows.Hep.Reports;

/// <summary>Settings of the <c>nflow eval</c> report.</summary>
public sealed record EvaluationReportOptions
{
    /// <summary>The report's title.</summary>
    public string Title { get; init; } = "nflow eval — model against test data";

    /// <summary>A line describing the model (architecture, file), shown in the summary; null: none.</summary>
    public string? ModelDescription { get; init; }

    /// <summary>Bins of the marginal histograms.</summary>
    public int Bins { get; init; } = 40;

    /// <summary>Bins per axis of the pairwise 2-D histograms.</summary>
    public int PairBins { get; init; } = 30;

    /// <summary>
    /// All feature pairs are drawn up to this many features; with more, only the pairs of neighbouring features
    /// (0–1, 1–2, …) up to <see cref="MaxPairs"/>.
    /// </summary>
    public int AllPairsUpTo { get; init; } = 6;

    /// <summary>Most pairwise plots (each a data and a model heat map).</summary>
    public int MaxPairs { get; init; } = 15;

    /// <summary>
    /// Test events outside the model's domain (log p = −∞), left out of the given test log-likelihood; the summary
    /// states the count (and, when every event is outside, says so instead of a number).
    /// </summary>
    public int OutsideDomain { get; init; }
}
