using System.Runtime.InteropServices;

namespace NormalizingFlows.Cli;

/// <summary>
/// Turns SIGINT (Ctrl-C) and SIGTERM (what batch schedulers send) into a cancellation of the running job: the first
/// signal cancels <see cref="Token"/> so the job can write its checkpoint and stop; a second one ends the process at
/// once (the default action). <see cref="ExitCode"/> is 130 after SIGINT and 143 after SIGTERM, as a shell reports a
/// process killed by them.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private long _polls;
    private readonly long _requestAtPoll;
    private readonly PosixSignal _testSignal;

    private Interruption(long requestAtPoll, PosixSignal testSignal)
    {
        _requestAtPoll = requestAtPoll;
        _testSignal = testSignal;
    }

    /// <summary>
    /// Starts listening for SIGINT and SIGTERM. <paramref name="simulate"/> ("SIGNAL@N", hidden test option) acts as if
    /// SIGNAL arrived at the N-th <see cref="Poll"/> of the job.
    /// </summary>
    public static Interruption Listen(string? simulate = null)
    {
        var (at, signal) = ParseSimulated(simulate);
        var it = new Interruption(at, signal);
        foreach (var s in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            try { it._registrations.Add(PosixSignalRegistration.Create(s, it.OnSignal)); }
            catch (PlatformNotSupportedException) { } // a platform without this signal: nothing to listen to
        }
        return it;
    }

    /// <summary>Cancelled when the first signal arrives.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>True once a signal asked the job to stop.</summary>
    public bool Requested => _cts.IsCancellationRequested;

    /// <summary>The signal that stopped the job, or null.</summary>
    public PosixSignal? Signal { get; private set; }

    /// <summary>130 after SIGINT, 143 after SIGTERM (128 + the signal's number).</summary>
    public int ExitCode => Signal == PosixSignal.SIGTERM ? Program.ExitTerminated : Program.ExitInterrupted;

    /// <summary>"SIGINT" or "SIGTERM".</summary>
    public string SignalName => Signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";

    /// <summary>Asks the job to stop as if <paramref name="signal"/> had arrived (the first request wins).</summary>
    public void Request(PosixSignal signal)
    {
        lock (_cts)
        {
            if (Signal is not null) return;
            Signal = signal;
        }
        _cts.Cancel();
    }

    /// <summary>Called by the job at its progress points: counts them for the simulated signal.</summary>
    public void Poll()
    {
        if (_requestAtPoll > 0 && Interlocked.Increment(ref _polls) == _requestAtPoll) Request(_testSignal);
    }

    /// <summary>Polls, then throws <see cref="JobInterruptedException"/> when a signal asked the job to stop.</summary>
    public void ThrowIfRequested()
    {
        Poll();
        if (Requested) throw new JobInterruptedException(this);
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Signal is not null)
        {
            context.Cancel = false; // second signal: the default action ends the process now
            return;
        }
        context.Cancel = true;
        Request(context.Signal);
    }

    private static (long At, PosixSignal Signal) ParseSimulated(string? spec)
    {
        if (string.IsNullOrEmpty(spec)) return (0, PosixSignal.SIGINT);
        var parts = spec.Split('@');
        PosixSignal signal = parts[0].ToUpperInvariant() switch
        {
            "SIGINT" => PosixSignal.SIGINT,
            "SIGTERM" => PosixSignal.SIGTERM,
            _ => throw new UsageException($"--simulate-signal: unknown signal '{parts[0]}' (SIGINT or SIGTERM)"),
        };
        if (parts.Length != 2 || !long.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out long at) || at < 1)
            throw new UsageException($"--simulate-signal must be SIGNAL@N with N ≥ 1, got '{spec}'");
        return (at, signal);
    }

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _registrations.Clear();
        _cts.Dispose();
    }
}

/// <summary>A job stopped by SIGINT/SIGTERM; <see cref="Program"/> prints the message and exits with <see cref="Interruption.ExitCode"/>.</summary>
internal sealed class JobInterruptedException(Interruption interruption, string? detail = null)
    : OperationCanceledException(Describe(interruption, detail))
{
    public Interruption Interruption { get; } = interruption;

    private static string Describe(Interruption i, string? detail) =>
        $"interrupted by {i.SignalName}" + (detail is null ? "; nothing was written" : "; " + detail);
}
