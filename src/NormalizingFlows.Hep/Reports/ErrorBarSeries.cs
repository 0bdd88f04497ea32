namespace NormalizingFlows.Hep.Reports;

/// <summary>Points with vertical error bars.</summary>
public sealed record ErrorBarSeries(string Label, string Color, double[] X, double[] Y, double[] Errors) : PlotSeries(Label, Color);
