using System.Globalization;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// A user-given domain of one column: an open lower end, an open upper end, or both (null: open on that side).
/// Parsed from "lo:hi", "lo:" or ":hi" by <see cref="Parse"/>.
/// </summary>
public sealed record ColumnBounds(double? Lower, double? Upper)
{
    /// <summary>True when <paramref name="v"/> lies strictly inside the bounds.</summary>
    public bool Contains(double v) => (Lower is not { } lo || v > lo) && (Upper is not { } hi || v < hi);

    /// <inheritdoc/>
    public override string ToString() =>
        $"({(Lower is { } lo ? PreprocessingSpec.Fmt(lo) : "−∞")}, {(Upper is { } hi ? PreprocessingSpec.Fmt(hi) : "∞")})";

    /// <summary>
    /// Parses "col=lo:hi" entries (comma-separated, or given one by one) into bounds per column name; an end may be
    /// left empty ("pt=15:" bounds only below). A <see cref="FormatException"/> names the faulty entry.
    /// </summary>
    public static Dictionary<string, ColumnBounds> Parse(IEnumerable<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var result = new Dictionary<string, ColumnBounds>(StringComparer.Ordinal);
        foreach (var entry in entries.SelectMany(e => e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            int colon = eq < 0 ? -1 : entry.IndexOf(':', eq + 1);
            if (eq <= 0 || colon < 0)
                throw new FormatException($"bound '{entry}' must look like COLUMN=LOW:HIGH (an end may be empty: pt=15: or phi=:3.2)");
            string name = entry[..eq].Trim(), lo = entry[(eq + 1)..colon].Trim(), hi = entry[(colon + 1)..].Trim();
            double? Num(string t, string which)
            {
                if (t.Length == 0) return null;
                if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
                    throw new FormatException($"bound '{entry}': the {which} end '{t}' is not a finite number");
                return v;
            }
            var b = new ColumnBounds(Num(lo, "lower"), Num(hi, "upper"));
            if (b.Lower is null && b.Upper is null) throw new FormatException($"bound '{entry}' gives neither end");
            if (b.Lower is { } l && b.Upper is { } h && !(l < h)) throw new FormatException($"bound '{entry}': the lower end must be below the upper end");
            if (!result.TryAdd(name, b)) throw new FormatException($"column '{name}' is bounded twice");
        }
        return result;
    }

    /// <summary>
    /// Parses periods of angle columns: "col" (period [−π, π)) or "col=lo:hi" (both ends), comma-separated or given
    /// one by one. A <see cref="FormatException"/> names the faulty entry.
    /// </summary>
    public static Dictionary<string, ColumnBounds> ParsePeriods(IEnumerable<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var result = new Dictionary<string, ColumnBounds>(StringComparer.Ordinal);
        foreach (var entry in entries.SelectMany(e => e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var (name, period) = entry.Contains('=') ? Parse([entry]).Single() : KeyValuePair.Create(entry, new ColumnBounds(-Math.PI, Math.PI));
            if (period.Lower is null || period.Upper is null)
                throw new FormatException($"period '{entry}' needs both ends, COLUMN=LOW:HIGH (or the column alone for [−π, π))");
            if (!result.TryAdd(name, period)) throw new FormatException($"column '{name}' is declared periodic twice");
        }
        return result;
    }
}
