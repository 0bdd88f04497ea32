using System.Diagnostics;
using System.Globalization;

namespace NormalizingFlows.Cli;

/// <summary>
/// Progress of a long job on stderr with its rate and the time left: on a terminal one line redrawn in place (at most
/// a few times a second); otherwise (a log file, a batch job) a plain line every <see cref="CliContext.ProgressInterval"/>
/// seconds, so logs stay short. Every report also polls the job's <see cref="Interruption"/> and throws
/// <see cref="JobInterruptedException"/> once a signal asked the job to stop (pass <c>checkInterruption: false</c> where the
/// job stops by itself, like a trainer that writes its checkpoint first).
/// </summary>
internal sealed class JobProgress
{
    private readonly TextWriter _err;
    private readonly string _label;
    private readonly string _unit;
    private readonly bool _interactive;
    private readonly double _interval;
    private readonly Interruption? _interruption;
    private readonly Func<double> _clock;
    private double _total;
    private double _lastPrint = double.NegativeInfinity;
    private double _done;
    private int _lastWidth;

    /// <summary>A reporter for a job of <paramref name="total"/> <paramref name="unit"/> (0: unknown) named <paramref name="label"/>.</summary>
    public JobProgress(CliContext ctx, string label, double total, string unit, Interruption? interruption = null, Func<double>? clock = null)
    {
        _err = ctx.Err;
        _label = label;
        _unit = unit;
        _total = total;
        _interactive = ctx.IsErrorInteractive;
        _interval = _interactive ? 0.2 : ctx.ProgressInterval;
        _interruption = interruption;
        var watch = Stopwatch.StartNew();
        _clock = clock ?? (() => watch.Elapsed.TotalSeconds);
        _start = _clock();
        if (!_interactive) _lastPrint = _start; // a log's first line comes after one interval (a short job logs only its final line)
    }

    private readonly double _start;

    /// <summary>Total amount of work (when it becomes known or changes).</summary>
    public double Total
    {
        get => _total;
        set => _total = value;
    }

    /// <summary>Records that <paramref name="done"/> units are done; prints when the interval has passed; polls for signals.</summary>
    public void Report(double done, string? detail = null, bool checkInterruption = true)
    {
        _done = done;
        if (checkInterruption) _interruption?.ThrowIfRequested();
        else _interruption?.Poll();
        double now = _clock();
        if (now - _lastPrint < _interval) return;
        _lastPrint = now;
        Print(Line(now, detail));
    }

    /// <summary>Adds <paramref name="amount"/> units .</summary>
    public void Advance(double amount, string? detail = null) => Report(_done + amount, detail);

    /// <summary>Ends the live line (terminal) or prints the final plain line, with <paramref name="done"/> units done when given.</summary>
    public void Complete(double? done = null, string? detail = null)
    {
        if (done is { } d) _done = d;
        double now = _clock();
        string line = Line(now, detail);
        if (_interactive) { Print(line); _err.WriteLine(); }
        else _err.WriteLine(line);
    }

    /// <summary>The progress line: "label: 45% (9,000/20,000 calls) · 1,234 calls/s · elapsed 0:00:07 · ETA 0:00:09".</summary>
    internal string Line(double now, string? detail)
    {
        var c = CultureInfo.InvariantCulture;
        double elapsed = Math.Max(0, now - _start);
        double rate = elapsed > 0 ? _done / elapsed : double.NaN;
        string amount = _total > 0
            ? string.Create(c, $"{100 * Math.Min(1, _done / _total):F0}% ({_done:N0}/{_total:N0} {_unit})")
            : string.Create(c, $"{_done:N0} {_unit}");
        string rateText = double.IsFinite(rate) ? string.Create(c, $"{Rate(rate)} {_unit}/s") : $"– {_unit}/s";
        string eta = _total > 0 && rate > 0 ? Time((_total - _done) / rate) : "–";
        return $"{_label}: {amount} · {rateText} · elapsed {Time(elapsed)} · ETA {eta}" + (detail is null ? "" : " · " + detail);
    }

    private static string Rate(double r) => r.ToString(r >= 100 ? "N0" : r >= 1 ? "F1" : "G3", CultureInfo.InvariantCulture);

    internal static string Time(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "–";
        long s = (long)Math.Round(Math.Min(seconds, 1e9));
        return string.Create(CultureInfo.InvariantCulture, $"{s / 3600}:{s / 60 % 60:00}:{s % 60:00}");
    }

    private void Print(string line)
    {
        if (!_interactive)
        {
            _err.WriteLine(line);
            return;
        }
        _err.Write("\r" + line.PadRight(_lastWidth));
        _lastWidth = line.Length;
    }
}

/// <summary>
/// Feeds a trainer's reports (steps, epoch, loss) into a <see cref="JobProgress"/> and on to <paramref name="inner"/>;
/// polls the interruption without throwing (the trainer stops itself on the token, writing its checkpoint).
/// </summary>
internal sealed class TrainingJobProgress(JobProgress job, IProgress<Training.TrainingProgress>? inner = null) : IProgress<Training.TrainingProgress>
{
    public void Report(Training.TrainingProgress p)
    {
        inner?.Report(p);
        job.Total = p.TotalSteps;
        job.Report(p.Step, string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch} · loss {p.Loss:G5}"), checkInterruption: false);
    }
}
