using System.CommandLine;
using System.Globalization;

namespace NormalizingFlows.Cli;

/// <summary>The options a training verb ran with, as stored in its checkpoint and compared on <c>--resume</c>.</summary>
internal static class RunSettings
{
    /// <summary>
    /// Every option of the invoked verb with its value (given or default), keyed by the option's name ("--layers"),
    /// except <paramref name="ignore"/> (paths, resumption, testing hooks) and the recursive ones (threads, progress):
    /// a new option of the verb takes part without being listed here.
    /// </summary>
    public static Dictionary<string, string> Of(ParseResult r, params string[] ignore)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var option in r.CommandResult.Command.Options)
        {
            if (option.Recursive || ignore.Contains(option.Name) || option.Name is "--help" or "-h" or "-?" or "--version") continue;
            object? value = r.GetResult(option) is { } result ? result.GetValueOrDefault<object?>() : option.HasDefaultValue ? option.GetDefaultValue() : null;
            settings[option.Name] = value switch
            {
                null => "(none)",
                double d => d.ToString("R", CultureInfo.InvariantCulture),
                float f => f.ToString("R", CultureInfo.InvariantCulture),
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                System.Collections.IEnumerable e and not string => string.Join(",", e.Cast<object?>()),
                _ => value.ToString() ?? "",
            };
        }
        return settings;
    }
}
