namespace NormalizingFlows.Hep.Reports;

/// <summary>A histogram drawn as a step line over bin edges (Edges.Length = Values.Length + 1), with optional error bars.</summary>
public sealed record StepSeries(string Label, string Color, double[] Edges, double[] Values, double[]? Errors = null, bool Filled = false) : PlotSeries(Label, Color);
