using System.Globalization;
using System.Net;
using System.Text;

namespace NormalizingFlows.Hep.Reports;

/// <summary>One drawable series of a <see cref="SvgPlot"/>.</summary>
public abstract record PlotSeries(string Label, string Color);

/// <summary>A polyline through (x, y) points.</summary>
public sealed record LineSeries(string Label, string Color, double[] X, double[] Y, bool Dashed = false) : PlotSeries(Label, Color);

/// <summary>Points (x, y) drawn as small dots.</summary>
public sealed record ScatterSeries(string Label, string Color, double[] X, double[] Y, double Radius = 1.2, double Opacity = 0.35) : PlotSeries(Label, Color);

/// <summary>A histogram drawn as a step line over bin edges (Edges.Length = Values.Length + 1), with optional error bars.</summary>
public sealed record StepSeries(string Label, string Color, double[] Edges, double[] Values, double[]? Errors = null, bool Filled = false) : PlotSeries(Label, Color);

/// <summary>Points with vertical error bars.</summary>
public sealed record ErrorBarSeries(string Label, string Color, double[] X, double[] Y, double[] Errors) : PlotSeries(Label, Color);

/// <summary>A 2-D histogram over a regular grid drawn as a heat map (Values[i, j]: x bin i, y bin j).</summary>
public sealed record HeatmapSeries(string Label, double XMin, double XMax, double YMin, double YMax, double[,] Values) : PlotSeries(Label, "#000");

/// <summary>
/// A small, dependency-free plotter producing inline SVG: axes with "nice" ticks, optional log-y scale, a legend,
/// lines, scatters, step histograms with error bars and heat maps. Non-finite values are skipped.
/// </summary>
public sealed class SvgPlot
{
    private readonly List<PlotSeries> _series = [];

    /// <summary>Creates a plot of the given pixel size.</summary>
    public SvgPlot(string title, string xLabel = "", string yLabel = "", int width = 460, int height = 320)
    {
        Title = title; XLabel = xLabel; YLabel = yLabel; Width = width; Height = height;
    }

    /// <summary>Title above the plot.</summary>
    public string Title { get; }
    /// <summary>Label under the x axis.</summary>
    public string XLabel { get; }
    /// <summary>Label beside the y axis.</summary>
    public string YLabel { get; }
    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>Logarithmic y axis (non-positive values are skipped).</summary>
    public bool LogY { get; init; }
    /// <summary>Fixed x range, or null to fit the data.</summary>
    public (double Min, double Max)? XRange { get; init; }
    /// <summary>Fixed y range, or null to fit the data.</summary>
    public (double Min, double Max)? YRange { get; init; }
    /// <summary>Draw a horizontal reference line at this y (e.g. 1 in a ratio panel).</summary>
    public double? ReferenceY { get; init; }

    /// <summary>Adds a series (returns this for chaining).</summary>
    public SvgPlot Add(PlotSeries series)
    {
        _series.Add(series);
        return this;
    }

    private const int Left = 62, Right = 14, Top = 30, Bottom = 46;

    /// <summary>The plot as an &lt;svg&gt; element.</summary>
    public string Render()
    {
        var (x0, x1) = XRange ?? Extent(_series.SelectMany(XValues));
        var (y0, y1) = YRange ?? Extent(_series.SelectMany(YValues).Where(v => !LogY || v > 0));
        if (LogY)
        {
            y0 = Math.Log10(Math.Max(y0, 1e-300)); y1 = Math.Log10(Math.Max(y1, 1e-300));
            if (y1 - y0 < 1) { y0 -= 0.5; y1 += 0.5; }
        }
        double pw = Width - Left - Right, ph = Height - Top - Bottom;
        double Sx(double v) => Left + (v - x0) / (x1 - x0) * pw;
        double Sy(double v) => Top + ph - ((LogY ? Math.Log10(v) : v) - y0) / (y1 - y0) * ph;
        bool YOk(double v) => double.IsFinite(v) && (!LogY || v > 0);

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"11\">");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{Esc(Title)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<clipPath id=\"c{GetHashCode()}\"><rect x=\"{Left}\" y=\"{Top}\" width=\"{F(pw)}\" height=\"{F(ph)}\"/></clipPath>");
        // grid and ticks
        foreach (var t in NiceTicks(x0, x1, 6))
        {
            double px = Sx(t);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(px)}\" y1=\"{Top}\" x2=\"{F(px)}\" y2=\"{F(Top + ph)}\" stroke=\"#eee\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(px)}\" y=\"{F(Top + ph + 14)}\" text-anchor=\"middle\">{Esc(Label(t))}</text>");
        }
        foreach (var t in NiceTicks(y0, y1, 5))
        {
            double py = Top + ph - (t - y0) / (y1 - y0) * ph;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{F(py)}\" x2=\"{F(Left + pw)}\" y2=\"{F(py)}\" stroke=\"#eee\"/>");
            string label = LogY ? "1e" + Label(t) : Label(t);
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{F(py + 4)}\" text-anchor=\"end\">{Esc(label)}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<g clip-path=\"url(#c{GetHashCode()})\">");
        foreach (var s in _series)
        {
            switch (s)
            {
                case HeatmapSeries h:
                {
                    int nx = h.Values.GetLength(0), ny = h.Values.GetLength(1);
                    double max = 0;
                    foreach (var v in h.Values) if (double.IsFinite(v)) max = Math.Max(max, v);
                    double cw = (h.XMax - h.XMin) / nx, ch = (h.YMax - h.YMin) / ny;
                    for (int i = 0; i < nx; i++)
                        for (int j = 0; j < ny; j++)
                        {
                            double v = h.Values[i, j];
                            if (!(v > 0) || max <= 0) continue;
                            double ax = Sx(h.XMin + i * cw), bx = Sx(h.XMin + (i + 1) * cw);
                            double ay = Top + ph - ((h.YMin + (j + 1) * ch) - y0) / (y1 - y0) * ph, by = Top + ph - ((h.YMin + j * ch) - y0) / (y1 - y0) * ph;
                            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(ax)}\" y=\"{F(ay)}\" width=\"{F(bx - ax + 0.3)}\" height=\"{F(by - ay + 0.3)}\" fill=\"{Viridis(v / max)}\" shape-rendering=\"crispEdges\"/>");
                        }
                    break;
                }
                case ScatterSeries sc:
                    for (int i = 0; i < sc.X.Length; i++)
                        if (double.IsFinite(sc.X[i]) && YOk(sc.Y[i]))
                            sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Sx(sc.X[i]))}\" cy=\"{F(Sy(sc.Y[i]))}\" r=\"{F(sc.Radius)}\" fill=\"{sc.Color}\" fill-opacity=\"{F(sc.Opacity)}\"/>");
                    break;
                case LineSeries l:
                    sb.Append("<polyline fill=\"none\" stroke=\"").Append(l.Color).Append("\" stroke-width=\"1.6\"").Append(l.Dashed ? " stroke-dasharray=\"5,3\"" : "").Append(" points=\"");
                    for (int i = 0; i < l.X.Length; i++)
                        if (double.IsFinite(l.X[i]) && YOk(l.Y[i])) sb.Append(F(Sx(l.X[i]))).Append(',').Append(F(Sy(l.Y[i]))).Append(' ');
                    sb.Append("\"/>");
                    break;
                case StepSeries st:
                {
                    var pts = new StringBuilder();
                    for (int i = 0; i < st.Values.Length; i++)
                    {
                        if (!YOk(st.Values[i])) continue;
                        double py = Sy(st.Values[i]);
                        pts.Append(F(Sx(st.Edges[i]))).Append(',').Append(F(py)).Append(' ').Append(F(Sx(st.Edges[i + 1]))).Append(',').Append(F(py)).Append(' ');
                    }
                    if (st.Filled) sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"{st.Color}\" fill-opacity=\"0.15\" stroke=\"none\" points=\"{F(Sx(st.Edges[0]))},{F(Top + ph)} {pts}{F(Sx(st.Edges[^1]))},{F(Top + ph)}\"/>");
                    sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{st.Color}\" stroke-width=\"1.5\" points=\"{pts}\"/>");
                    if (st.Errors is not null)
                        for (int i = 0; i < st.Values.Length; i++)
                            AppendErrorBar(sb, 0.5 * (Sx(st.Edges[i]) + Sx(st.Edges[i + 1])), st.Values[i], st.Errors[i], st.Color, Sy, YOk);
                    break;
                }
                case ErrorBarSeries e:
                    for (int i = 0; i < e.X.Length; i++)
                    {
                        if (!double.IsFinite(e.X[i]) || !YOk(e.Y[i])) continue;
                        AppendErrorBar(sb, Sx(e.X[i]), e.Y[i], e.Errors[i], e.Color, Sy, YOk);
                        sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Sx(e.X[i]))}\" cy=\"{F(Sy(e.Y[i]))}\" r=\"2.2\" fill=\"{e.Color}\"/>");
                    }
                    break;
            }
        }
        if (ReferenceY is { } refY && YOk(refY))
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{F(Sy(refY))}\" x2=\"{F(Left + pw)}\" y2=\"{F(Sy(refY))}\" stroke=\"#888\" stroke-dasharray=\"4,3\"/>");
        sb.Append("</g>");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{F(pw)}\" height=\"{F(ph)}\" fill=\"none\" stroke=\"#333\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left + pw / 2)}\" y=\"{Height - 8}\" text-anchor=\"middle\">{Esc(XLabel)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(14,{F(Top + ph / 2)}) rotate(-90)\" text-anchor=\"middle\">{Esc(YLabel)}</text>");
        // legend
        int ly = Top + 8;
        foreach (var s in _series.Where(s => s is not HeatmapSeries && s.Label.Length > 0))
        {
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(Left + pw - 120)}\" y=\"{ly - 7}\" width=\"10\" height=\"10\" fill=\"{s.Color}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left + pw - 106)}\" y=\"{ly + 2}\">{Esc(s.Label)}</text>");
            ly += 14;
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static void AppendErrorBar(StringBuilder sb, double px, double y, double err, string color, Func<double, double> sy, Func<double, bool> ok)
    {
        if (!double.IsFinite(err) || err <= 0 || !ok(y)) return;
        double lo = ok(y - err) ? sy(y - err) : sy(y), hi = sy(y + err);
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(px)}\" y1=\"{F(lo)}\" x2=\"{F(px)}\" y2=\"{F(hi)}\" stroke=\"{color}\"/>");
    }

    private static IEnumerable<double> XValues(PlotSeries s) => s switch
    {
        LineSeries l => l.X, ScatterSeries sc => sc.X, StepSeries st => st.Edges, ErrorBarSeries e => e.X,
        HeatmapSeries h => [h.XMin, h.XMax], _ => [],
    };

    private static IEnumerable<double> YValues(PlotSeries s) => s switch
    {
        LineSeries l => l.Y, ScatterSeries sc => sc.Y,
        StepSeries st => st.Errors is null ? st.Values : st.Values.Select((v, i) => v + st.Errors[i]).Concat(st.Values),
        ErrorBarSeries e => e.Y.Select((v, i) => v + e.Errors[i]).Concat(e.Y.Select((v, i) => v - e.Errors[i])),
        HeatmapSeries h => [h.YMin, h.YMax], _ => [],
    };

    private static (double, double) Extent(IEnumerable<double> values)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var v in values) if (double.IsFinite(v)) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        if (!double.IsFinite(lo)) return (0, 1);
        if (hi - lo < 1e-12 * Math.Max(1, Math.Abs(hi))) { lo -= 0.5; hi += 0.5; }
        double pad = 0.04 * (hi - lo);
        return (lo - pad, hi + pad);
    }

    /// <summary>Round tick positions ("nice numbers": 1, 2, 5 × 10^k) covering [lo, hi].</summary>
    public static IReadOnlyList<double> NiceTicks(double lo, double hi, int target)
    {
        if (!(hi > lo) || !double.IsFinite(lo) || !double.IsFinite(hi)) return [];
        double raw = (hi - lo) / Math.Max(1, target);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 5, 10 }.Select(f => f * mag).First(s => s >= raw);
        var ticks = new List<double>();
        for (double t = Math.Ceiling(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.Add(Math.Abs(t) < 1e-12 * step ? 0 : t);
        return ticks;
    }

    private static string Label(double v) => Math.Abs(v) >= 1e5 || (Math.Abs(v) < 1e-3 && v != 0)
        ? v.ToString("0.#e0", CultureInfo.InvariantCulture) : v.ToString("G4", CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Esc(string s) => WebUtility.HtmlEncode(s);

    /// <summary>An approximation of the viridis colour map at t ∈ [0, 1].</summary>
    public static string Viridis(double t)
    {
        t = Math.Clamp(t, 0, 1);
        (double r, double g, double b)[] stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];
        double p = t * (stops.Length - 1);
        int i = Math.Min((int)p, stops.Length - 2);
        double f = p - i;
        var (r0, g0, b0) = stops[i]; var (r1, g1, b1) = stops[i + 1];
        return $"rgb({(int)(r0 + f * (r1 - r0))},{(int)(g0 + f * (g1 - g0))},{(int)(b0 + f * (b1 - b0))})";
    }
}
