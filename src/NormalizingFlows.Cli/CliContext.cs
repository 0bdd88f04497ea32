namespace NormalizingFlows.Cli;

/// <summary>Where a command writes: normal output and error messages.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error)
{
    public TextWriter Out { get; } = output;

    public TextWriter Err { get; } = error;

    /// <summary>True when <see cref="Out"/> is the real console and stdout is an interactive terminal (progress bars allowed).</summary>
    public bool IsInteractive => ReferenceEquals(Out, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>True when <see cref="Err"/> is the real console and stderr is an interactive terminal (a live progress line allowed).</summary>
    public bool IsErrorInteractive => ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>Seconds between plain progress lines when stderr is not a terminal (<c>--progress-every</c>).</summary>
    public double ProgressInterval { get; set; } = 10;

    /// <summary>Hidden test option: "SIGNAL@N" acts as if SIGNAL arrived at the job's N-th progress point.</summary>
    public string? SimulatedSignal { get; set; }

    /// <summary>Starts listening for SIGINT/SIGTERM for one job (dispose it when the job ends).</summary>
    public Interruption Listen() => Interruption.Listen(SimulatedSignal);
}
