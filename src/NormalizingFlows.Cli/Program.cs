using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;
using NormalizingFlows.IO;

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
        string path = CommandPath(parsed.CommandResult);
        if (parsed.Errors.Count > 0)
        {
            var command = parsed.CommandResult.Command;
            if (command.Subcommands.Count > 0)
            {
                // a group verb (or the root) without a valid sub-verb: name the word that was not understood and the choices
                string choices = string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
                string where = path.Length == 0 ? "" : $" for 'nflow {path}'";
                var words = parsed.UnmatchedTokens.Where(t => !t.StartsWith('-')).ToList();
                if (words.Count > 0) error.WriteLine($"nflow: unknown verb '{words[0]}'{where} (choose one of: {choices})");
                else if (path.Length > 0) error.WriteLine($"nflow {path}: a sub-verb is required (choose one of: {choices})");
                foreach (var o in parsed.UnmatchedTokens.Where(t => t.StartsWith('-'))) error.WriteLine($"nflow: unknown option '{o}'{where}");
                // the parser's own "required command" / "unrecognized token" errors of the group are replaced by the lines above
                foreach (var e in parsed.Errors.Where(e => !(e.SymbolResult is CommandResult c && c.Command == command))) error.WriteLine($"nflow: {e.Message}");
            }
            else
                foreach (var e in parsed.Errors) error.WriteLine($"nflow: {e.Message}");
            error.WriteLine($"Run 'nflow {(path.Length == 0 ? "" : path + " ")}--help' for usage.");
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
        catch (TrainingDivergedException ex)
        {
            error.WriteLine($"nflow: error: {ex.Reason}. {DivergenceAdvice(parsed)}");
            return ExitError;
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            error.WriteLine($"nflow: error: {UserMessage(ex)}");
            if (ex is not UsageException) return ExitError;
            error.WriteLine($"Run 'nflow {(path.Length == 0 ? "" : path + " ")}--help' for usage.");
            return ExitUsage;
        }
    }

    /// <summary>The command tree of <c>nflow</c> (for tests that inspect verbs and options).</summary>
    internal static RootCommand BuildRootForTests() => Commands.BuildRoot(new CliContext(TextWriter.Null, TextWriter.Null));

    /// <summary>The verb path of a parse, e.g. "calo simulate" ("" for the root).</summary>
    internal static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c; r = c.Parent)
            if (c.Command is not RootCommand) names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }

    /// <summary>What a user can do about a diverged training, in terms of the verb's own options.</summary>
    private static string DivergenceAdvice(ParseResult parsed)
    {
        var options = parsed.CommandResult.Command.Options;
        var lr = options.FirstOrDefault(o => o.Name == "--lr");
        string scale = "check the data's scale (huge or constant columns, outliers)";
        if (lr is null) return "Try another --seed, or " + scale + ".";
        object? value = parsed.GetResult(lr) is { } r ? r.GetValueOrDefault<object?>() : null;
        string now = value is IFormattable f ? $" (now {f.ToString(null, CultureInfo.InvariantCulture)})" : "";
        return $"Try a lower --lr{now}, or {scale}.";
    }

    /// <summary>
    /// An exception's message for the user, on one line: without .NET's "(Parameter 'name')" suffix, which names our
    /// code's parameter, not an option; an out-of-range value kept as "(got v)"; other line breaks become "; ".
    /// </summary>
    internal static string UserMessage(Exception ex)
    {
        string m = ex.Message;
        if (ex is ArgumentException { ParamName: { } p })
        {
            // ArgumentOutOfRangeException adds a second line "Actual value was …": keep the value, on one line
            int nl = m.IndexOf('\n', StringComparison.Ordinal);
            if (nl >= 0) m = m[..nl].TrimEnd('\r');
            string suffix = $" (Parameter '{p}')";
            int at = m.LastIndexOf(suffix, StringComparison.Ordinal);
            if (at >= 0) m = m.Remove(at, suffix.Length);
            if (ex is ArgumentOutOfRangeException { ActualValue: { } v })
                m += $" (got {(v is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : v)})";
        }
        return string.Join("; ", m.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }

    private static bool IsUserError(Exception ex) => ex is DataFormatException or ModelFileException or ArgumentException or FormatException
        or InvalidDataException or IOException or UnauthorizedAccessException or TrainingDivergedException or UsageException;
}
