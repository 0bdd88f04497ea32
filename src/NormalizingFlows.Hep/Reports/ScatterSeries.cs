namespace NormalizingFlows.Hep.Reports;

/// <summary>Points (x, y) drawn as small dots.</summary>
public sealed record ScatterSeries(string Label, string Color, double[] X, double[] Y, double Radius = 1.2, double Opacity = 0.35) : PlotSeries(Label, Color);
