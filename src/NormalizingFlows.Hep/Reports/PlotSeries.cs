namespace NormalizingFlows.Hep.Reports;

/// <summary>One drawable series of a <see cref="SvgPlot"/>.</summary>
public abstract record PlotSeries(string Label, string Color);
