using System.Globalization;
using System.Text;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// Writes Les Houches Event files (LHEF, version 3.0; Alwall et al., hep-ph/0609017), the format Pythia, Herwig and
/// Delphes read: a <c>&lt;header&gt;</c> comment, the <c>&lt;init&gt;</c> block and one <c>&lt;event&gt;</c> block
/// per event. Numbers are written in invariant culture with 11 significant digits.
/// </summary>
public static class LesHouchesWriter
{
    /// <summary>
    /// Writes <paramref name="init"/> and <paramref name="events"/> to <paramref name="path"/> atomically (a crash
    /// never leaves a half-written file in its place); <paramref name="comment"/> goes into the header. Throws
    /// <see cref="ArgumentException"/> naming the event for non-finite numbers or bad mother indices.
    /// </summary>
    public static void Write(string path, LesHouchesInit init, IEnumerable<LesHouchesEvent> events, string? comment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(init);
        ArgumentNullException.ThrowIfNull(events);
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            Write(writer, init, events, comment);
        });
    }

    /// <summary>Writes the whole file to <paramref name="writer"/>.</summary>
    public static void Write(TextWriter writer, LesHouchesInit init, IEnumerable<LesHouchesEvent> events, string? comment = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(init);
        ArgumentNullException.ThrowIfNull(events);
        Validate(init);
        writer.WriteLine("<LesHouchesEvents version=\"3.0\">");
        writer.WriteLine("<header>");
        writer.WriteLine("<!--");
        writer.WriteLine(" Written by NormalizingFlows.Hep (nflow).");
        if (!string.IsNullOrWhiteSpace(comment))
            foreach (string line in comment.Split('\n')) writer.WriteLine(" " + Sanitise(line.TrimEnd('\r')));
        writer.WriteLine("-->");
        writer.WriteLine("</header>");
        writer.WriteLine("<init>");
        writer.WriteLine($" {I(init.BeamA)} {I(init.BeamB)} {F(init.EnergyA)} {F(init.EnergyB)} {I(init.PdfGroup.A)} {I(init.PdfGroup.B)} {I(init.PdfSet.A)} {I(init.PdfSet.B)} {I(init.WeightStrategy)} {I(init.Processes.Count)}");
        foreach (var p in init.Processes)
            writer.WriteLine($" {F(p.CrossSection)} {F(p.Error)} {F(p.MaxWeight)} {I(p.ProcessId)}");
        writer.WriteLine("</init>");
        long index = 0;
        foreach (var e in events)
        {
            ArgumentNullException.ThrowIfNull(e, $"events[{index}]");
            Validate(e, index);
            writer.WriteLine("<event>");
            writer.WriteLine($" {I(e.Particles.Count)} {I(e.ProcessId)} {F(e.Weight)} {F(e.Scale)} {F(e.AlphaQed)} {F(e.AlphaQcd)}");
            foreach (var p in e.Particles)
            {
                var m = p.Momentum;
                writer.WriteLine($" {I(p.Id),8} {I(p.Status),2} {I(p.Mother1),4} {I(p.Mother2),4} {I(p.Colour),4} {I(p.AntiColour),4} " +
                                 $"{F(m.Px)} {F(m.Py)} {F(m.Pz)} {F(m.E)} {F(p.Mass)} {F(p.Lifetime)} {F(p.Spin)}");
            }
            writer.WriteLine("</event>");
            index++;
        }
        writer.WriteLine("</LesHouchesEvents>");
    }

    /// <summary>
    /// Turns unweighted points of <paramref name="process"/> (row-major, n × d, e.g. the points kept by
    /// hit-or-miss unweighting) into events and writes them to <paramref name="path"/>: IDWTUP = 3, every event with
    /// XWGTUP = <paramref name="crossSection"/> (the mean weight is σ, as MadGraph's "average" normalisation), the init
    /// block with σ ± <paramref name="error"/> in pb. Points with f(x) = 0 are skipped; returns the number written.
    /// </summary>
    public static int WriteUnweighted(string path, IPhaseSpaceProcess process, ReadOnlySpan<double> points,
                                      double crossSection, double error, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(process);
        ArgumentNullException.ThrowIfNull(rng);
        int d = process.Dimensions;
        if (points.Length % d != 0)
            throw new ArgumentException($"points has {points.Length} numbers, not a multiple of the process dimension {d}", nameof(points));
        var events = new List<LesHouchesEvent>(points.Length / d);
        for (int i = 0; i < points.Length / d; i++)
        {
            var e = process.CreateEvent(points.Slice(i * d, d), crossSection, rng);
            if (e != null) events.Add(e);
        }
        Write(path, process.CreateInit(crossSection, error, crossSection), events, process.Description);
        return events.Count;
    }

    static void Validate(LesHouchesInit init)
    {
        if (init.Processes.Count == 0) throw new ArgumentException("the init block needs at least one process", nameof(init));
        if (!double.IsFinite(init.EnergyA) || !double.IsFinite(init.EnergyB)) throw new ArgumentException("beam energies must be finite", nameof(init));
        foreach (var p in init.Processes)
            if (!double.IsFinite(p.CrossSection) || !double.IsFinite(p.Error) || !double.IsFinite(p.MaxWeight))
                throw new ArgumentException($"process {p.ProcessId}: cross section, error and maximum weight must be finite", nameof(init));
    }

    static void Validate(LesHouchesEvent e, long index)
    {
        if (e.Particles.Count == 0) throw new ArgumentException($"event {index} has no particles", "events");
        if (!double.IsFinite(e.Weight) || !double.IsFinite(e.Scale) || !double.IsFinite(e.AlphaQed) || !double.IsFinite(e.AlphaQcd))
            throw new ArgumentException($"event {index}: weight, scale and couplings must be finite", "events");
        for (int j = 0; j < e.Particles.Count; j++)
        {
            var p = e.Particles[j];
            var m = p.Momentum;
            if (!double.IsFinite(m.E) || !double.IsFinite(m.Px) || !double.IsFinite(m.Py) || !double.IsFinite(m.Pz) || !double.IsFinite(p.Mass))
                throw new ArgumentException($"event {index}, particle {j + 1}: non-finite momentum or mass", "events");
            if (p.Mother1 < 0 || p.Mother1 > e.Particles.Count || p.Mother2 < 0 || p.Mother2 > e.Particles.Count)
                throw new ArgumentException($"event {index}, particle {j + 1}: mother index out of range 0..{e.Particles.Count}", "events");
        }
    }

    static string Sanitise(string s) => s.Replace("--", "- -", StringComparison.Ordinal);

    static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    static string F(double v) => v.ToString("+0.0000000000E+00;-0.0000000000E+00", CultureInfo.InvariantCulture);
}
