using System.Globalization;
using System.Net;
using System.Text;
using NormalizingFlows.IO;

namespace NormalizingFlows.Hep.Reports;

/// <summary>
/// A self-contained HTML report (inline CSS and SVG; no scripts, no network): a title, sections of text, key-value
/// tables, data tables and figure grids. Written atomically.
/// </summary>
public sealed class HtmlReport
{
    private readonly StringBuilder _body = new();

    /// <summary>Starts a report with a title.</summary>
    public HtmlReport(string title) => Title = title;

    /// <summary>The report's title.</summary>
    public string Title { get; }

    /// <summary>Adds a section heading.</summary>
    public HtmlReport Section(string heading)
    {
        _body.Append("<h2>").Append(WebUtility.HtmlEncode(heading)).Append("</h2>\n");
        return this;
    }

    /// <summary>Adds a paragraph of plain text.</summary>
    public HtmlReport Paragraph(string text)
    {
        _body.Append("<p>").Append(WebUtility.HtmlEncode(text)).Append("</p>\n");
        return this;
    }

    /// <summary>Adds a two-column table of names and values.</summary>
    public HtmlReport KeyValues(IEnumerable<(string Key, string Value)> rows)
    {
        _body.Append("<table class=\"kv\">");
        foreach (var (k, v) in rows)
            _body.Append("<tr><th>").Append(WebUtility.HtmlEncode(k)).Append("</th><td>").Append(WebUtility.HtmlEncode(v)).Append("</td></tr>");
        _body.Append("</table>\n");
        return this;
    }

    /// <summary>Adds a table with a header row.</summary>
    public HtmlReport Table(string[] header, IEnumerable<string[]> rows)
    {
        _body.Append("<table class=\"data\"><tr>");
        foreach (var h in header) _body.Append("<th>").Append(WebUtility.HtmlEncode(h)).Append("</th>");
        _body.Append("</tr>");
        foreach (var r in rows)
        {
            _body.Append("<tr>");
            foreach (var c in r) _body.Append("<td>").Append(WebUtility.HtmlEncode(c)).Append("</td>");
            _body.Append("</tr>");
        }
        _body.Append("</table>\n");
        return this;
    }

    /// <summary>Adds plots side by side (wrapping as the page narrows).</summary>
    public HtmlReport Figures(params SvgPlot[] plots)
    {
        _body.Append("<div class=\"grid\">");
        foreach (var p in plots) _body.Append("<figure>").Append(p.Render()).Append("</figure>");
        _body.Append("</div>\n");
        return this;
    }

    /// <summary>The complete HTML document.</summary>
    public string Render()
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(WebUtility.HtmlEncode(Title)).Append("</title>");
        sb.Append("<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1500px}h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}");
        sb.Append("table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;border:1px solid #ddd;text-align:left;font-size:13px}table.kv th{background:#f6f6f6}");
        sb.Append(".grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}.foot{color:#888;font-size:12px;margin-top:30px}</style></head><body>\n");
        sb.Append("<h1>").Append(WebUtility.HtmlEncode(Title)).Append("</h1>\n");
        sb.Append(_body);
        sb.Append("<p class=\"foot\">NormalizingFlows · ").Append(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)).Append("</p>\n</body></html>\n");
        return sb.ToString();
    }

    /// <summary>Writes the report to <paramref name="path"/> atomically.</summary>
    public void Save(string path)
    {
        var bytes = new UTF8Encoding(false).GetBytes(Render());
        AtomicFile.Write(path, fs => fs.Write(bytes));
    }
}
