using System.Globalization;
using System.Net;
using System.Text;

namespace NormalizingFlows.Hep.Reports;

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

    private const int Left = 62, Top = 30, Bottom = 46, LegendRow = 14;

    /// <summary>Extra right margin taken by a heat map's colour bar.</summary>
    private const int ColorBarMargin = 64;

    /// <summary>The plot as an &lt;svg&gt; element.</summary>
    public string Render()
    {
        var heatmap = _series.OfType<HeatmapSeries>().FirstOrDefault();
        int right = heatmap is null ? 14 : 14 + ColorBarMargin;
        var (x0, x1) = XRange ?? Extent(_series.SelectMany(XValues));
        double y0, y1;
        if (LogY)
        {
            // the range and its padding are taken on log10 of the positive values, so padding never reaches 0
            (y0, y1) = YRange is { } yr
                ? (Math.Log10(Math.Max(yr.Min, double.Epsilon)), Math.Log10(Math.Max(yr.Max, double.Epsilon)))
                : Extent(_series.SelectMany(YValues).Where(v => v > 0).Select(Math.Log10));
            if (y1 - y0 < 1) { double c = 0.5 * (y0 + y1); y0 = c - 0.5; y1 = c + 0.5; }
        }
        else if (YRange is { } yr) (y0, y1) = yr;
        else
        {
            var ys = _series.SelectMany(YValues).Where(double.IsFinite).ToArray();
            (y0, y1) = Extent(ys);
            // histograms are read against zero: a density or count axis starts at 0
            if (_series.Any(s => s is StepSeries) && ys.Length > 0 && ys.Min() >= 0) { y0 = 0; if (!(y1 > 0)) y1 = 1; }
        }
        double pw = Width - Left - right, ph = Height - Top - Bottom;
        double Sx(double v) => Left + (v - x0) / (x1 - x0) * pw;
        double Sy(double v) => Top + ph - ((LogY ? Math.Log10(v) : v) - y0) / (y1 - y0) * ph;
        bool YOk(double v) => double.IsFinite(v) && (!LogY || v > 0);

        var ink = new List<(double X, double Y, double Weight)>(); // where data are drawn, to keep the legend off them
        void InkSegment(double ax, double ay, double bx, double by, double weight = 1)
        {
            int steps = Math.Max(1, (int)(Math.Sqrt((bx - ax) * (bx - ax) + (by - ay) * (by - ay)) / 3));
            for (int k = 0; k <= steps; k++) ink.Add((ax + (bx - ax) * k / steps, ay + (by - ay) * k / steps, weight));
        }

        var body = new StringBuilder();
        var sb = body;
        string clipId = "c" + Guid.NewGuid().ToString("N")[..12];
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left + pw / 2)}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{Esc(Title)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<clipPath id=\"{clipId}\"><rect x=\"{Left}\" y=\"{Top}\" width=\"{F(pw)}\" height=\"{F(ph)}\"/></clipPath>");
        // grid and ticks
        foreach (var t in NiceTicks(x0, x1, 6))
        {
            double px = Sx(t);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(px)}\" y1=\"{Top}\" x2=\"{F(px)}\" y2=\"{F(Top + ph)}\" stroke=\"#eee\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(px)}\" y=\"{F(Top + ph + 14)}\" text-anchor=\"middle\">{Esc(Label(t))}</text>");
        }
        foreach (var t in LogY ? LogTicks(y0, y1) : NiceTicks(y0, y1, 5))
        {
            double py = Top + ph - (t - y0) / (y1 - y0) * ph;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{F(py)}\" x2=\"{F(Left + pw)}\" y2=\"{F(py)}\" stroke=\"#eee\"/>");
            string label = LogY ? "1e" + Label(t) : Label(t);
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{F(py + 4)}\" text-anchor=\"end\">{Esc(label)}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<g clip-path=\"url(#{clipId})\">");
        foreach (var s in _series)
        {
            switch (s)
            {
                case HeatmapSeries h:
                {
                    int nx = h.Values.GetLength(0), ny = h.Values.GetLength(1);
                    var (cmin, cmax, _, _) = h.ColorScale();
                    double cw = (h.XMax - h.XMin) / nx, ch = (h.YMax - h.YMin) / ny;
                    for (int i = 0; i < nx; i++)
                        for (int j = 0; j < ny; j++)
                        {
                            double v = h.Values[i, j];
                            if (!double.IsFinite(v)) continue;
                            double ax = Sx(h.XMin + i * cw), bx = Sx(h.XMin + (i + 1) * cw);
                            double ay = Top + ph - ((h.YMin + (j + 1) * ch) - y0) / (y1 - y0) * ph, by = Top + ph - ((h.YMin + j * ch) - y0) / (y1 - y0) * ph;
                            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(ax)}\" y=\"{F(ay)}\" width=\"{F(bx - ax + 0.3)}\" height=\"{F(by - ay + 0.3)}\" fill=\"{Viridis((v - cmin) / (cmax - cmin))}\" shape-rendering=\"crispEdges\"/>");
                        }
                    break;
                }
                case ScatterSeries sc:
                    for (int i = 0; i < sc.X.Length; i++)
                        if (double.IsFinite(sc.X[i]) && YOk(sc.Y[i]))
                        {
                            sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Sx(sc.X[i]))}\" cy=\"{F(Sy(sc.Y[i]))}\" r=\"{F(sc.Radius)}\" fill=\"{sc.Color}\" fill-opacity=\"{F(sc.Opacity)}\"/>");
                            ink.Add((Sx(sc.X[i]), Sy(sc.Y[i]), 1));
                        }
                    break;
                case LineSeries l:
                {
                    sb.Append("<polyline fill=\"none\" stroke=\"").Append(l.Color).Append("\" stroke-width=\"1.6\"").Append(l.Dashed ? " stroke-dasharray=\"5,3\"" : "").Append(" points=\"");
                    (double X, double Y)? prev = null;
                    for (int i = 0; i < l.X.Length; i++)
                        if (double.IsFinite(l.X[i]) && YOk(l.Y[i]))
                        {
                            double px = Sx(l.X[i]), py = Sy(l.Y[i]);
                            sb.Append(F(px)).Append(',').Append(F(py)).Append(' ');
                            if (prev is { } p0) InkSegment(p0.X, p0.Y, px, py); else ink.Add((px, py, 1));
                            prev = (px, py);
                        }
                    sb.Append("\"/>");
                    break;
                }
                case StepSeries st:
                {
                    var pts = new StringBuilder();
                    for (int i = 0; i < st.Values.Length; i++)
                    {
                        if (!YOk(st.Values[i])) continue;
                        double py = Sy(st.Values[i]), ax = Sx(st.Edges[i]), bx = Sx(st.Edges[i + 1]);
                        pts.Append(F(ax)).Append(',').Append(F(py)).Append(' ').Append(F(bx)).Append(',').Append(F(py)).Append(' ');
                        InkSegment(ax, py, bx, py);
                        if (st.Filled) // the shaded area counts, less than the line
                            for (double fy = py + 6; fy < Top + ph; fy += 6) InkSegment(ax, fy, bx, fy, 0.1);
                    }
                    if (st.Filled) sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"{st.Color}\" fill-opacity=\"0.15\" stroke=\"none\" points=\"{F(Sx(st.Edges[0]))},{F(Top + ph)} {pts}{F(Sx(st.Edges[^1]))},{F(Top + ph)}\"/>");
                    sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{st.Color}\" stroke-width=\"1.5\" points=\"{pts}\"/>");
                    if (st.Errors is not null)
                        for (int i = 0; i < st.Values.Length; i++)
                            AppendErrorBar(sb, 0.5 * (Sx(st.Edges[i]) + Sx(st.Edges[i + 1])), st.Values[i], st.Errors[i], st.Color, Sy, YOk, ink);
                    break;
                }
                case ErrorBarSeries e:
                    for (int i = 0; i < e.X.Length; i++)
                    {
                        if (!double.IsFinite(e.X[i]) || !YOk(e.Y[i])) continue;
                        AppendErrorBar(sb, Sx(e.X[i]), e.Y[i], e.Errors[i], e.Color, Sy, YOk, ink);
                        sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Sx(e.X[i]))}\" cy=\"{F(Sy(e.Y[i]))}\" r=\"2.2\" fill=\"{e.Color}\"/>");
                        ink.Add((Sx(e.X[i]), Sy(e.Y[i]), 1));
                    }
                    break;
            }
        }
        if (ReferenceY is { } refY && YOk(refY))
        {
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{F(Sy(refY))}\" x2=\"{F(Left + pw)}\" y2=\"{F(Sy(refY))}\" stroke=\"#888\" stroke-dasharray=\"4,3\"/>");
            InkSegment(Left, Sy(refY), Left + pw, Sy(refY), 0.5);
        }
        sb.Append("</g>");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{F(pw)}\" height=\"{F(ph)}\" fill=\"none\" stroke=\"#333\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left + pw / 2)}\" y=\"{Height - 8}\" text-anchor=\"middle\">{Esc(XLabel)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(14,{F(Top + ph / 2)}) rotate(-90)\" text-anchor=\"middle\">{Esc(YLabel)}</text>");
        if (heatmap is not null) AppendColorBar(sb, heatmap, Left + pw + 10, Top, ph);
        int height = Height + AppendLegend(sb, ink, pw, ph);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{height}\" fill=\"white\"/>");
        svg.Append(body).Append("</svg>");
        return svg.ToString();
    }

    /// <summary>
    /// Draws the legend in the corner of the plot area where it covers the least data, or, when every corner covers
    /// some, in rows under the plot; returns the extra height taken under the plot.
    /// </summary>
    private int AppendLegend(StringBuilder sb, List<(double X, double Y, double Weight)> ink, double pw, double ph)
    {
        var entries = _series.Where(s => s is not HeatmapSeries && s.Label.Length > 0).ToArray();
        if (entries.Length == 0) return 0;
        double boxW = entries.Max(s => TextWidth(s.Label)) + 24, boxH = entries.Length * LegendRow + 6;
        (double X, double Y)[] corners =
        [
            (Left + pw - boxW - 4, Top + 4), (Left + 4, Top + 4), (Left + pw - boxW - 4, Top + ph - boxH - 4), (Left + 4, Top + ph - boxH - 4),
        ];
        double best = double.PositiveInfinity;
        (double X, double Y) at = corners[0];
        if (boxW <= pw - 8 && boxH <= ph - 8)
            foreach (var c in corners)
            {
                double covered = 0;
                foreach (var (x, y, w) in ink)
                    if (x >= c.X - 2 && x <= c.X + boxW + 2 && y >= c.Y - 2 && y <= c.Y + boxH + 2) covered += w;
                if (covered < best) { best = covered; at = c; }
            }
        if (best < 0.5)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"legend\"><rect x=\"{F(at.X)}\" y=\"{F(at.Y)}\" width=\"{F(boxW)}\" height=\"{F(boxH)}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>");
            for (int k = 0; k < entries.Length; k++) AppendLegendEntry(sb, entries[k], at.X + 6, at.Y + 13 + k * LegendRow);
            sb.Append("</g>");
            return 0;
        }
        // outside: rows under the x-axis label
        double xPos = Left, row = 0, top = Height + 2;
        sb.Append("<g class=\"legend\">");
        foreach (var s in entries)
        {
            double w = TextWidth(s.Label) + 30;
            if (xPos + w > Width - 4 && xPos > Left) { xPos = Left; row++; }
            AppendLegendEntry(sb, s, xPos, top + row * LegendRow + 8);
            xPos += w;
        }
        sb.Append("</g>");
        return (int)((row + 1) * LegendRow + 6);
    }

    private static void AppendLegendEntry(StringBuilder sb, PlotSeries s, double x, double baseline)
    {
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(baseline - 9)}\" width=\"10\" height=\"10\" fill=\"{s.Color}\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x + 14)}\" y=\"{F(baseline)}\">{Esc(s.Label)}</text>");
    }

    /// <summary>A generous estimate of a label's width at font size 11.</summary>
    private static double TextWidth(string s) => 6.6 * s.Length;

    /// <summary>A vertical colour bar of the heat map's scale with ticks, end labels and the scale's label.</summary>
    private static void AppendColorBar(StringBuilder sb, HeatmapSeries h, double x, double top, double height)
    {
        var (min, max, below, above) = h.ColorScale();
        const int steps = 48;
        const double barW = 12;
        sb.Append("<g class=\"colorbar\">");
        for (int k = 0; k < steps; k++)
        {
            double y = top + height * (1 - (k + 1.0) / steps);
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(y)}\" width=\"{F(barW)}\" height=\"{F(height / steps + 0.4)}\" fill=\"{Viridis((k + 0.5) / steps)}\" shape-rendering=\"crispEdges\"/>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(top)}\" width=\"{F(barW)}\" height=\"{F(height)}\" fill=\"none\" stroke=\"#333\"/>");
        double Py(double v) => top + height * (1 - (v - min) / (max - min));
        var ticks = NiceTicks(min, max, 5).Where(t => Py(t) > top + 14 && Py(t) < top + height - 14).ToList();
        foreach (var t in ticks) Tick(t, Label(t));
        Tick(min, (below ? "≤ " : "") + Label(min));
        Tick(max, (above ? "≥ " : "") + Label(max));
        if (h.ColorLabel.Length > 0)
            sb.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate({F(x + barW + 46)},{F(top + height / 2)}) rotate(-90)\" text-anchor=\"middle\">{Esc(h.ColorLabel)}</text>");
        sb.Append("</g>");

        void Tick(double v, string label)
        {
            double py = Py(v);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(x + barW)}\" y1=\"{F(py)}\" x2=\"{F(x + barW + 3)}\" y2=\"{F(py)}\" stroke=\"#333\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x + barW + 5)}\" y=\"{F(py + 4)}\">{Esc(label)}</text>");
        }
    }

    /// <summary>Ticks of a log axis (in log10 units): whole decades, or nice steps when the range is short or very long.</summary>
    private static IReadOnlyList<double> LogTicks(double lo, double hi)
    {
        var ticks = NiceTicks(lo, hi, 5);
        var whole = ticks.Where(t => Math.Abs(t - Math.Round(t)) < 1e-9).ToList();
        return whole.Count >= 2 ? whole : ticks;
    }

    private static void AppendErrorBar(StringBuilder sb, double px, double y, double err, string color, Func<double, double> sy, Func<double, bool> ok,
        List<(double X, double Y, double Weight)> ink)
    {
        if (!double.IsFinite(err) || err <= 0 || !ok(y)) return;
        double lo = ok(y - err) ? sy(y - err) : sy(y), hi = sy(y + err);
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(px)}\" y1=\"{F(lo)}\" x2=\"{F(px)}\" y2=\"{F(hi)}\" stroke=\"{color}\"/>");
        for (double t = Math.Min(lo, hi); t <= Math.Max(lo, hi); t += 3) ink.Add((px, t, 1));
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
