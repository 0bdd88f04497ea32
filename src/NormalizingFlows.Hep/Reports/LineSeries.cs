namespace NormalizingFlows.Hep.Reports;

/// <summary>A polyline through (x, y) points.</summary>
public sealed record LineSeries(string Label, string Color, double[] X, double[] Y, bool Dashed = false) : PlotSeries(Label, Color);
