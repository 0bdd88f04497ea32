using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>What a <see cref="PreprocessingPipeline{T}"/> does to one column (JSON names in brackets).</summary>
public enum PreprocessingKind
{
    /// <summary>Leave the column as it is ("none").</summary>
    None,
    /// <summary>Standardise: (x − mean)/std ("standardize").</summary>
    Standardize,
    /// <summary>log(x − shift), then standardise ("log"); for positive, heavy-tailed columns.</summary>
    Log,
    /// <summary>Min-max to (0, 1) with a margin → logit → standardise ("minmax-logit"); for bounded columns with sharp edges (pT thresholds, hard cuts).</summary>
    MinMaxLogit,
    /// <summary>Integer-valued: add U(0, 1) noise for training, floor when sampling; standardised ("dequantize").</summary>
    Dequantize,
}

/// <summary>The preprocessing of one column: its name, its kind and the kind's options.</summary>
/// <param name="Name">Column name (checked against the table the pipeline is fitted on).</param>
/// <param name="Kind">What is done to it.</param>
public sealed record ColumnPreprocessing(string Name, PreprocessingKind Kind)
{
    /// <summary>Minmax-logit: widening of the training range on each side, as a fraction of the range, in (0, 0.5].</summary>
    public double Margin { get; init; } = 0.01;

    /// <summary>Log: the column is mapped to log(x − Shift); every training value must exceed it.</summary>
    public double Shift { get; init; }

    /// <summary>Why <see cref="PreprocessingSpec.Auto"/> chose this kind (informational; null when set by hand).</summary>
    public string? Reason { get; init; }

    /// <summary>The steps this kind expands to, in the data → base direction (e.g. "minmax", "logit", "standardize").</summary>
    public IReadOnlyList<string> Chain => Kind switch
    {
        PreprocessingKind.None => [],
        PreprocessingKind.Standardize => ["standardize"],
        PreprocessingKind.Log => ["log", "standardize"],
        PreprocessingKind.MinMaxLogit => ["minmax", "logit", "standardize"],
        PreprocessingKind.Dequantize => ["dequantize", "standardize"],
        _ => throw new InvalidOperationException($"unknown kind {Kind}"),
    };
}

/// <summary>
/// The per-column preprocessing choices of a model, serialisable to JSON (<see cref="ToJson"/> / <see cref="FromJson"/>)
/// and fitted on a training table by <see cref="PreprocessingPipeline.Fit{T}"/>. <see cref="Auto"/> picks a kind per
/// column from the data.
/// </summary>
public sealed class PreprocessingSpec
{
    /// <summary>Version of the JSON layout written by <see cref="ToJson"/>.</summary>
    public const int FormatVersion = 1;

    /// <summary>Creates a spec from one entry per column, in column order (names must be distinct).</summary>
    public PreprocessingSpec(IEnumerable<ColumnPreprocessing> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        var list = columns.ToList();
        if (list.Count == 0) throw new ArgumentException("a preprocessing spec needs at least one column", nameof(columns));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int j = 0; j < list.Count; j++)
        {
            var c = list[j] ?? throw new ArgumentException($"column {j} is null", nameof(columns));
            if (string.IsNullOrEmpty(c.Name)) throw new ArgumentException($"column {j} has no name", nameof(columns));
            if (!names.Add(c.Name)) throw new ArgumentException($"column name '{c.Name}' appears twice", nameof(columns));
            if (!Enum.IsDefined(c.Kind)) throw new ArgumentException($"column '{c.Name}': unknown kind {(int)c.Kind}", nameof(columns));
            if (c.Kind == PreprocessingKind.MinMaxLogit && !(c.Margin > 0 && c.Margin <= 0.5))
                throw new ArgumentException($"column '{c.Name}': the minmax-logit margin must lie in (0, 0.5], got {c.Margin} (with 0 the training extremes map to logit(0) = −∞)", nameof(columns));
            if (c.Kind == PreprocessingKind.Log && !double.IsFinite(c.Shift))
                throw new ArgumentException($"column '{c.Name}': the log shift must be finite, got {c.Shift}", nameof(columns));
        }
        Columns = list;
    }

    /// <summary>One entry per column, in column order.</summary>
    public IReadOnlyList<ColumnPreprocessing> Columns { get; }

    /// <summary>Number of columns.</summary>
    public int Count => Columns.Count;

    /// <summary>The column names, in order.</summary>
    public string[] Names => Columns.Select(c => c.Name).ToArray();

    /// <summary>Indices of the columns of kind <paramref name="kind"/>, ascending.</summary>
    public int[] ColumnsOf(PreprocessingKind kind) => Enumerable.Range(0, Count).Where(j => Columns[j].Kind == kind).ToArray();

    /// <summary>The same kind for every column of <paramref name="names"/>.</summary>
    public static PreprocessingSpec Uniform(IEnumerable<string> names, PreprocessingKind kind)
    {
        ArgumentNullException.ThrowIfNull(names);
        return new PreprocessingSpec(names.Select(n => new ColumnPreprocessing(n, kind)));
    }

    /// <summary>The JSON name of a kind: "none", "standardize", "log", "minmax-logit" or "dequantize".</summary>
    public static string KindName(PreprocessingKind kind) => kind switch
    {
        PreprocessingKind.None => "none",
        PreprocessingKind.Standardize => "standardize",
        PreprocessingKind.Log => "log",
        PreprocessingKind.MinMaxLogit => "minmax-logit",
        PreprocessingKind.Dequantize => "dequantize",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown preprocessing kind"),
    };

    /// <summary>Parses a JSON kind name (case-insensitive); <see cref="FormatException"/> lists the valid names.</summary>
    public static PreprocessingKind ParseKind(string name) => name?.ToLowerInvariant() switch
    {
        "none" => PreprocessingKind.None,
        "standardize" => PreprocessingKind.Standardize,
        "log" => PreprocessingKind.Log,
        "minmax-logit" => PreprocessingKind.MinMaxLogit,
        "dequantize" => PreprocessingKind.Dequantize,
        _ => throw new FormatException($"unknown preprocessing kind '{name}' (valid: none, standardize, log, minmax-logit, dequantize)"),
    };

    /// <summary>
    /// Picks a kind per column of <paramref name="table"/> (the training set), in this order:
    /// integer-valued (≥ 2 distinct values) → dequantize; a sharp edge at the minimum or maximum (a hard cut such as a
    /// pT threshold, or many values piled at the extreme) → minmax-logit; strictly positive with skewness &gt; 1 whose
    /// logarithm is less skewed → log; otherwise standardize. The edge test compares the spread of the k₁ and k₂ = 10·k₁
    /// values nearest an extreme (k₁ = max(10, N/200)): a density that stays non-zero up to the edge fills them evenly
    /// (ratio ≈ 10), one that fades out towards the extreme does not (≈ √10 for a linear fade, less for tails); a
    /// ratio ≥ 5 counts as an edge. Needs N ≥ 200 for the edge test (smaller tables skip it). Non-finite values throw.
    /// </summary>
    public static PreprocessingSpec Auto(Table table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var cols = new List<ColumnPreprocessing>(table.Cols);
        var values = new double[table.Rows];
        for (int j = 0; j < table.Cols; j++)
        {
            for (int r = 0; r < table.Rows; r++)
            {
                values[r] = table[r, j];
                if (!double.IsFinite(values[r]))
                    throw new ArgumentException($"column '{table.Columns[j]}' row {r} is {values[r]}: drop or impute non-finite values before preprocessing");
            }
            var (kind, reason) = Choose(table, j, values);
            cols.Add(new ColumnPreprocessing(table.Columns[j], kind) { Reason = reason });
        }
        return new PreprocessingSpec(cols);
    }

    private static (PreprocessingKind, string) Choose(Table table, int column, double[] values)
    {
        int n = values.Length;
        if (n == 0) return (PreprocessingKind.Standardize, "empty column");
        if (Dequantize.IsIntegerValued(table, column)) return (PreprocessingKind.Dequantize, "integer-valued");
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        double min = sorted[0], max = sorted[^1];
        if (min == max) return (PreprocessingKind.Standardize, "constant");
        if (n >= 200)
        {
            int k1 = Math.Max(10, n / 200), k2 = Math.Min(10 * k1, n - 1);
            double lowRatio = EdgeRatio(sorted[k1] - min, sorted[k2] - min);
            double highRatio = EdgeRatio(max - sorted[n - 1 - k1], max - sorted[n - 1 - k2]);
            if (lowRatio >= 5 || highRatio >= 5)
            {
                string side = lowRatio >= 5 && highRatio >= 5 ? "both ends" : lowRatio >= 5 ? $"the minimum {Fmt(min)}" : $"the maximum {Fmt(max)}";
                return (PreprocessingKind.MinMaxLogit, $"sharp edge at {side}");
            }
        }
        if (min > 0)
        {
            double skew = Skewness(values, v => v);
            if (skew > 1)
            {
                double logSkew = Skewness(values, Math.Log);
                if (Math.Abs(logSkew) < skew) return (PreprocessingKind.Log, $"positive, skewness {Fmt(skew)} (log: {Fmt(logSkew)})");
            }
        }
        return (PreprocessingKind.Standardize, "default");
    }

    /// <summary>Spread of the k₂ nearest values over that of the k₁ nearest (∞ when values pile up at the extreme).</summary>
    private static double EdgeRatio(double spread1, double spread2)
    {
        if (spread1 <= 0) return double.PositiveInfinity;
        return spread2 / spread1;
    }

    private static double Skewness(double[] values, Func<double, double> f)
    {
        double mean = 0;
        foreach (var v in values) mean += f(v);
        mean /= values.Length;
        double m2 = 0, m3 = 0;
        foreach (var v in values)
        {
            double d = f(v) - mean;
            m2 += d * d; m3 += d * d * d;
        }
        m2 /= values.Length; m3 /= values.Length;
        return m2 > 0 ? m3 / Math.Pow(m2, 1.5) : 0;
    }

    private static string Fmt(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>
    /// The spec as JSON: <c>{"version": 1, "columns": [{"name": …, "kind": …, "chain": [...], "margin"/"shift": …, "reason": …}, …]}</c>
    /// ("chain" is informational and ignored when read).
    /// </summary>
    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", FormatVersion);
            w.WriteStartArray("columns");
            foreach (var c in Columns)
            {
                w.WriteStartObject();
                w.WriteString("name", c.Name);
                w.WriteString("kind", KindName(c.Kind));
                w.WriteStartArray("chain");
                foreach (var s in c.Chain) w.WriteStringValue(s);
                w.WriteEndArray();
                if (c.Kind == PreprocessingKind.MinMaxLogit) w.WriteNumber("margin", c.Margin);
                if (c.Kind == PreprocessingKind.Log) w.WriteNumber("shift", c.Shift);
                if (c.Reason is not null) w.WriteString("reason", c.Reason);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>Parses <see cref="ToJson"/>'s output; a <see cref="FormatException"/> names what is wrong.</summary>
    public static PreprocessingSpec FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException ex) { throw new FormatException($"the preprocessing spec is not valid JSON: {ex.Message}", ex); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"the preprocessing spec must be a JSON object, found {root.ValueKind}");
            if (!root.TryGetProperty("version", out var ver) || !ver.TryGetInt32(out int version))
                throw new FormatException("the preprocessing spec has no integer \"version\"");
            if (version > FormatVersion || version < 1)
                throw new FormatException($"preprocessing spec version {version} is not supported (this library reads version {FormatVersion})");
            if (!root.TryGetProperty("columns", out var cols) || cols.ValueKind != JsonValueKind.Array)
                throw new FormatException("the preprocessing spec has no \"columns\" array");
            var list = new List<ColumnPreprocessing>();
            int j = 0;
            foreach (var c in cols.EnumerateArray())
            {
                if (c.ValueKind != JsonValueKind.Object) throw new FormatException($"preprocessing column {j} must be an object, found {c.ValueKind}");
                string name = c.TryGetProperty("name", out var nm) && nm.ValueKind == JsonValueKind.String ? nm.GetString()!
                    : throw new FormatException($"preprocessing column {j} has no \"name\" string");
                string kindName = c.TryGetProperty("kind", out var kd) && kd.ValueKind == JsonValueKind.String ? kd.GetString()!
                    : throw new FormatException($"preprocessing column {j} ('{name}') has no \"kind\" string");
                PreprocessingKind kind;
                try { kind = ParseKind(kindName); }
                catch (FormatException ex) { throw new FormatException($"preprocessing column {j} ('{name}'): {ex.Message}", ex); }
                var entry = new ColumnPreprocessing(name, kind)
                {
                    Margin = Number(c, "margin", j, 0.01),
                    Shift = Number(c, "shift", j, 0.0),
                    Reason = c.TryGetProperty("reason", out var rs) && rs.ValueKind == JsonValueKind.String ? rs.GetString() : null,
                };
                list.Add(entry);
                j++;
            }
            try { return new PreprocessingSpec(list); }
            catch (ArgumentException ex) { throw new FormatException($"invalid preprocessing spec: {ex.Message}", ex); }
        }
    }

    private static double Number(JsonElement e, string name, int column, double fallback)
    {
        if (!e.TryGetProperty(name, out var v)) return fallback;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d))
            throw new FormatException($"preprocessing column {column}: \"{name}\" must be a number, found {v.GetRawText()}");
        return d;
    }
}
