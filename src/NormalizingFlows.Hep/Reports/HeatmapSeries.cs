namespace NormalizingFlows.Hep.Reports;

/// <summary>
/// A 2-D histogram over a regular grid drawn as a heat map (Values[i, j]: x bin i, y bin j), with a colour bar at the
/// right. The colour scale runs from <see cref="ColorMin"/> to <see cref="ColorMax"/> (default: the finite values'
/// range, from 0 when none is negative); values beyond it take the end colours and the colour bar's end label says
/// so ("≤ …", "≥ …"); non-finite cells are left blank.
/// </summary>
public sealed record HeatmapSeries(string Label, double XMin, double XMax, double YMin, double YMax, double[,] Values,
    double? ColorMin = null, double? ColorMax = null, string ColorLabel = "") : PlotSeries(Label, "#000")
{
    /// <summary>The colour scale's ends and whether finite values lie below / above them.</summary>
    public (double Min, double Max, bool Below, bool Above) ColorScale()
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var v in Values) if (double.IsFinite(v)) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        if (!double.IsFinite(lo)) return (ColorMin ?? 0, ColorMax ?? 1, false, false);
        double min = ColorMin ?? (lo >= 0 ? 0 : lo), max = ColorMax ?? hi;
        if (!(max > min)) max = min + 1;
        return (min, max, (lo < min), (hi > max));
    }
}
