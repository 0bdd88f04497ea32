using System.Globalization;
using NormalizingFlows.Data;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// Reads the init block and the events of a Les Houches Event file. Lines after the NUP particle lines of an event
/// (comments, reweighting blocks) and everything outside <c>&lt;init&gt;</c> and <c>&lt;event&gt;</c> are ignored.
/// Malformed content throws <see cref="DataFormatException"/> with the file and line.
/// </summary>
public static class LesHouchesReader
{
    /// <summary>Reads the file at <paramref name="path"/>.</summary>
    public static LesHouchesFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        using var reader = new StreamReader(path);
        return Read(reader, path);
    }

    /// <summary>Reads from <paramref name="reader"/>; <paramref name="name"/> names the source in error messages.</summary>
    public static LesHouchesFile Read(TextReader reader, string name = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(reader);
        int lineNo = 0;
        string? Next() { lineNo++; return reader.ReadLine(); }
        DataFormatException Error(string problem) => new(name, problem, lineNo);

        string? line;
        bool sawRoot = false;
        LesHouchesInit? init = null;
        var events = new List<LesHouchesEvent>();
        while ((line = Next()) != null)
        {
            string t = line.Trim();
            if (t.StartsWith("<LesHouchesEvents", StringComparison.Ordinal)) { sawRoot = true; continue; }
            if (t.StartsWith("<header", StringComparison.Ordinal))
            {
                while ((line = Next()) != null && !line.Contains("</header>", StringComparison.Ordinal)) { }
                if (line == null) throw Error("unterminated <header> block");
                continue;
            }
            if (t.StartsWith("<init", StringComparison.Ordinal))
            {
                if (!sawRoot) throw Error("<init> before the <LesHouchesEvents> root element");
                if (init != null) throw Error("second <init> block");
                var head = Fields(Next(), 10, "init line (IDBMUP1 IDBMUP2 EBMUP1 EBMUP2 PDFGUP1 PDFGUP2 PDFSUP1 PDFSUP2 IDWTUP NPRUP)");
                int nprup = Int(head[9], "NPRUP");
                if (nprup < 1) throw Error($"NPRUP = {nprup}, need at least one process");
                var processes = new List<LesHouchesProcess>(Math.Min(nprup, 64)); // the count is the file's claim: the list grows as lines are read
                for (int i = 0; i < nprup; i++)
                {
                    var f = Fields(Next(), 4, "process line (XSECUP XERRUP XMAXUP LPRUP)");
                    processes.Add(new LesHouchesProcess(Dbl(f[0], "XSECUP"), Dbl(f[1], "XERRUP"), Dbl(f[2], "XMAXUP"), Int(f[3], "LPRUP")));
                }
                init = new LesHouchesInit(Int(head[0], "IDBMUP1"), Int(head[1], "IDBMUP2"), Dbl(head[2], "EBMUP1"), Dbl(head[3], "EBMUP2"),
                                          Int(head[8], "IDWTUP"), processes)
                {
                    PdfGroup = (Int(head[4], "PDFGUP1"), Int(head[5], "PDFGUP2")),
                    PdfSet = (Int(head[6], "PDFSUP1"), Int(head[7], "PDFSUP2")),
                };
                SkipTo("</init>");
                continue;
            }
            if (t.StartsWith("<event", StringComparison.Ordinal))
            {
                if (init == null) throw Error("<event> before the <init> block");
                var head = Fields(Next(), 6, "event line (NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP)");
                int nup = Int(head[0], "NUP");
                if (nup < 1) throw Error($"NUP = {nup}, need at least one particle");
                var particles = new List<LesHouchesParticle>(Math.Min(nup, 64));
                for (int i = 0; i < nup; i++)
                {
                    var f = Fields(Next(), 13, "particle line (IDUP ISTUP MOTHUP1 MOTHUP2 ICOLUP1 ICOLUP2 PUP1..5 VTIMUP SPINUP)");
                    int m1 = Int(f[2], "MOTHUP1"), m2 = Int(f[3], "MOTHUP2");
                    if (m1 < 0 || m1 > nup || m2 < 0 || m2 > nup) throw Error($"mother index ({m1}, {m2}) outside 0..{nup}");
                    var p = new FourVector(Dbl(f[9], "PUP4"), Dbl(f[6], "PUP1"), Dbl(f[7], "PUP2"), Dbl(f[8], "PUP3"));
                    particles.Add(new LesHouchesParticle(Int(f[0], "IDUP"), Int(f[1], "ISTUP"), m1, m2, Int(f[4], "ICOLUP1"), Int(f[5], "ICOLUP2"),
                                                         p, Dbl(f[10], "PUP5"), Dbl(f[11], "VTIMUP"), Dbl(f[12], "SPINUP")));
                }
                events.Add(new LesHouchesEvent(Int(head[1], "IDPRUP"), Dbl(head[2], "XWGTUP"), Dbl(head[3], "SCALUP"),
                                               Dbl(head[4], "AQEDUP"), Dbl(head[5], "AQCDUP"), particles));
                SkipTo("</event>");
                continue;
            }
        }
        if (!sawRoot) throw new DataFormatException(name, "not a Les Houches Event file: no <LesHouchesEvents> element");
        if (init == null) throw new DataFormatException(name, "no <init> block");
        return new LesHouchesFile(init, events);

        void SkipTo(string end)
        {
            string? l;
            while ((l = Next()) != null)
            {
                string s = l.Trim();
                if (s.StartsWith(end, StringComparison.Ordinal)) return;
                if (s.StartsWith("<event", StringComparison.Ordinal) || s.StartsWith("<init", StringComparison.Ordinal)
                    || s.StartsWith("</LesHouchesEvents", StringComparison.Ordinal))
                    throw Error($"missing {end}");
            }
            throw Error($"end of file before {end}");
        }

        string[] Fields(string? l, int count, string what)
        {
            if (l == null) throw Error($"end of file, expected the {what}");
            var f = l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < count) throw Error($"{what}: {f.Length} fields, expected {count}");
            return f;
        }

        int Int(string s, string field) =>
            int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw Error($"{field}: '{s}' is not an integer");

        double Dbl(string s, string field)
        {
            // Fortran writers may use D exponents.
            string n = s.Replace('D', 'E').Replace('d', 'e');
            if (double.TryParse(n, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)) return v;
            throw Error($"{field}: '{s}' is not a finite number");
        }
    }
}
