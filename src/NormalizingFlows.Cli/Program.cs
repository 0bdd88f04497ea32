using System.CommandLine;
using NormalizingFlows.Data;
using NormalizingFlows.Serialization;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cli;

/// <summary>Entry point of the <c>nflow</c> command-line tool.</summary>
public static class Program
{
    /// <summary>Exit code of a successful run.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code when the input (a data or model file, an argument's value) is wrong.</summary>
    public const int ExitError = 1;

    /// <summary>Exit code of a usage error (unknown verb or option, missing or unparsable argument).</summary>
    public const int ExitUsage = 2;

    /// <summary>Exit code of a job stopped by SIGINT (Ctrl-C), after writing its checkpoint where it trains (128 + 2).</summary>
    public const int ExitInterrupted = 130;

    /// <summary>Exit code of a job stopped by SIGTERM (what batch schedulers send), after writing its checkpoint where it trains (128 + 15).</summary>
    public const int ExitTerminated = 143;

    /// <summary>Runs the tool on the console.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>
    /// Runs the tool with <paramref name="args"/>, writing normal output to <paramref name="output"/> and error messages
    /// to <paramref name="error"/>; returns the exit code (0 ok, 1 bad input, 2 usage error, 130 stopped by SIGINT, 143 stopped by SIGTERM).
    /// The live progress bar is drawn only when <paramref name="output"/> is the console and stdout is a terminal.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var context = new CliContext(output, error);
        var root = Commands.BuildRoot(context);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) error.WriteLine($"nflow: {e.Message}");
            string verb = parsed.CommandResult.Command == root ? "" : parsed.CommandResult.Command.Name + " ";
            error.WriteLine($"Run 'nflow {verb}--help' for usage.");
            return ExitUsage;
        }
        try
        {
            if (parsed.GetValue<int>("--threads") is > 0 and var threads) WorkerPool.MaxThreads = threads;
            context.ProgressInterval = parsed.GetValue<double>(Commands.ProgressEveryName);
            context.SimulatedSignal = parsed.GetValue<string?>(Commands.SimulateSignalName);
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (JobInterruptedException ex)
        {
            error.WriteLine($"nflow: {ex.Message}");
            return ex.Interruption.ExitCode;
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            error.WriteLine($"nflow: error: {OneLine(ex)}");
            return ex is UsageException ? ExitUsage : ExitError;
        }
    }

    /// <summary>
    /// The exception's message on one line: an <see cref="ArgumentException"/>'s " (Parameter 'x')" suffix and
    /// "Actual value was …" line (API details, not the user's words) are left out, other line breaks become "; ".
    /// </summary>
    internal static string OneLine(Exception ex)
    {
        string m = ex.Message;
        if (ex is ArgumentException { ParamName: { } p })
            m = m.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal);
        var lines = m.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !(ex is ArgumentOutOfRangeException && l.StartsWith("Actual value was ", StringComparison.Ordinal)));
        return string.Join("; ", lines);
    }

    private static bool IsUserError(Exception ex) => ex is DataFormatException or ModelFileException or ArgumentException or FormatException
        or InvalidDataException or IOException or UnauthorizedAccessException or TrainingDivergedException or UsageException;
}

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

/// <summary>A usage error found after parsing (an option's value out of range); exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
