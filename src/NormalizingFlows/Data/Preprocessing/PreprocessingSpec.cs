using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NormalizingFlows.Data.Preprocessing;

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
            if (c.Kind is PreprocessingKind.Log or PreprocessingKind.LogUpper && !double.IsFinite(c.Shift))
                throw new ArgumentException($"column '{c.Name}': the log shift must be finite, got {c.Shift}", nameof(columns));
            if (c.Lower.HasValue != c.Upper.HasValue || (c.Lower.HasValue && c.Kind is not (PreprocessingKind.MinMaxLogit or PreprocessingKind.Periodic)))
                throw new ArgumentException($"column '{c.Name}': explicit lower and upper bounds go together and only with minmax-logit or periodic (log takes a lower bound as its shift, log-upper an upper one)", nameof(columns));
            if (c.Lower is { } lo && c.Upper is { } hi && !(double.IsFinite(lo) && double.IsFinite(hi) && lo < hi))
                throw new ArgumentException($"column '{c.Name}': the bounds ({lo}, {hi}) must be finite with lower < upper", nameof(columns));
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

    /// <summary>The JSON name of a kind: "none", "standardize", "log", "log-upper", "minmax-logit", "dequantize" or "periodic".</summary>
    public static string KindName(PreprocessingKind kind) => kind switch
    {
        PreprocessingKind.None => "none",
        PreprocessingKind.Standardize => "standardize",
        PreprocessingKind.Log => "log",
        PreprocessingKind.MinMaxLogit => "minmax-logit",
        PreprocessingKind.Dequantize => "dequantize",
        PreprocessingKind.LogUpper => "log-upper",
        PreprocessingKind.Periodic => "periodic",
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
        "log-upper" => PreprocessingKind.LogUpper,
        "periodic" => PreprocessingKind.Periodic,
        _ => throw new FormatException($"unknown preprocessing kind '{name}' (valid: none, standardize, log, log-upper, minmax-logit, dequantize, periodic)"),
    };

    /// <summary>
    /// Picks a kind per column of <paramref name="table"/> (the training set), in this order:
    /// a bound given in <paramref name="bounds"/> (by column name) → that domain (both ends: minmax-logit on exactly
    /// (lower, upper); a lower end only: log(x − lower); an upper end only: log-upper, log(upper − x));
    /// integer-valued (≥ 2 distinct values) → dequantize; a sharp edge (a hard cut such as a pT threshold, or many
    /// values piled at the extreme) at both the minimum and the maximum → minmax-logit (walls 1 % of the range beyond
    /// the training extremes); at the minimum only → log(x − shift) with the shift <see cref="OneSidedMargin"/> (5 %) of the range below the minimum,
    /// open above; at the maximum only → log-upper, open below; strictly positive with skewness &gt; 1 whose
    /// logarithm is less skewed → log; otherwise standardize. Only a side with an edge is bounded: held-out events
    /// beyond the training range on an open side keep a finite density. The edge test compares the spread of the k₁,
    /// ≈ √10·k₁ and 10·k₁ values nearest an extreme (k₁ = max(20, N/100)): a density that stays non-zero up to the
    /// edge fills them evenly (ratios √10 and 10), one that fades out towards the extreme does not (a linear fade
    /// gives 10^¼ and √10, tails less); each half must reach 2.2 and the whole 5. Needs N ≥ 200 for the edge test (smaller tables skip it).
    /// Non-finite values throw, as do a bound on an unknown column and training values outside a given bound.
    /// Columns named in <paramref name="periodic"/> (angles, with their period: both ends) are
    /// <see cref="PreprocessingKind.Periodic"/>; there is no automatic detection of angles.
    /// </summary>
    public static PreprocessingSpec Auto(Table table, IReadOnlyDictionary<string, ColumnBounds>? bounds = null, IReadOnlyDictionary<string, ColumnBounds>? periodic = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (bounds is not null)
            foreach (var name in bounds.Keys)
                if (!table.Columns.Contains(name, StringComparer.Ordinal))
                    throw new ArgumentException($"a bound is given for column '{name}', but the columns are: {string.Join(", ", table.Columns)}");
        if (periodic is not null)
            foreach (var (name, period) in periodic)
            {
                if (!table.Columns.Contains(name, StringComparer.Ordinal))
                    throw new ArgumentException($"column '{name}' is declared periodic, but the columns are: {string.Join(", ", table.Columns)}");
                if (bounds?.ContainsKey(name) == true) throw new ArgumentException($"column '{name}' is given both a bound and a period: an angle is periodic, not bounded");
                if (period.Lower is not { } lo || period.Upper is not { } hi || !(lo < hi) || !double.IsFinite(hi - lo))
                    throw new ArgumentException($"column '{name}': a period needs finite ends lower < upper, got {period}");
            }
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
            if (periodic is not null && periodic.TryGetValue(table.Columns[j], out var p))
            {
                cols.Add(new ColumnPreprocessing(table.Columns[j], PreprocessingKind.Periodic) { Lower = p.Lower, Upper = p.Upper, Reason = $"periodic on [{Fmt(p.Lower!.Value)}, {Fmt(p.Upper!.Value)})" });
                continue;
            }
            if (bounds is not null && bounds.TryGetValue(table.Columns[j], out var b))
            {
                cols.Add(Bounded(table.Columns[j], b, values));
                continue;
            }
            cols.Add(Choose(table, j, values));
        }
        return new PreprocessingSpec(cols);
    }

    private static ColumnPreprocessing Bounded(string name, ColumnBounds b, double[] values)
    {
        for (int r = 0; r < values.Length; r++)
            if (!b.Contains(values[r]))
                throw new ArgumentException($"column '{name}' row {r} is {Fmt(values[r])}, outside its given bounds {b}: every training value must lie strictly inside (widen the bound)");
        const string why = "given bound";
        return (b.Lower, b.Upper) switch
        {
            ({ } lo, { } hi) => new ColumnPreprocessing(name, PreprocessingKind.MinMaxLogit) { Lower = lo, Upper = hi, Reason = $"{why} ({Fmt(lo)}, {Fmt(hi)})" },
            ({ } lo, null) => new ColumnPreprocessing(name, PreprocessingKind.Log) { Shift = lo, Reason = $"{why}: above {Fmt(lo)}, open above" },
            (null, { } hi) => new ColumnPreprocessing(name, PreprocessingKind.LogUpper) { Shift = hi, Reason = $"{why}: below {Fmt(hi)}, open below" },
            _ => throw new ArgumentException($"column '{name}': a bound needs a lower or an upper end"),
        };
    }

    private static ColumnPreprocessing Choose(Table table, int column, double[] values)
    {
        string name = table.Columns[column];
        ColumnPreprocessing Kind(PreprocessingKind k, string reason) => new(name, k) { Reason = reason };
        int n = values.Length;
        if (n == 0) return Kind(PreprocessingKind.Standardize, "empty column");
        if (Dequantize.IsIntegerValued(table, column)) return Kind(PreprocessingKind.Dequantize, "integer-valued");
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        double min = sorted[0], max = sorted[^1];
        if (min == max) return Kind(PreprocessingKind.Standardize, "constant");
        if (n >= 200)
        {
            bool low = IsEdge(i => sorted[i] - min, n);
            bool high = IsEdge(i => max - sorted[n - 1 - i], n);
            double pad = OneSidedMargin * (max - min);
            if (low && high) return Kind(PreprocessingKind.MinMaxLogit, $"sharp edges at both ends ({Fmt(min)}, {Fmt(max)})");
            if (low)
                return new ColumnPreprocessing(name, PreprocessingKind.Log) { Shift = min - pad, Reason = $"sharp edge at the minimum {Fmt(min)}: bounded below at {Fmt(min - pad)}, open above" };
            if (high)
                return new ColumnPreprocessing(name, PreprocessingKind.LogUpper) { Shift = max + pad, Reason = $"sharp edge at the maximum {Fmt(max)}: bounded above at {Fmt(max + pad)}, open below" };
        }
        if (min > 0)
        {
            double skew = Skewness(values, v => v);
            if (skew > 1)
            {
                double logSkew = Skewness(values, Math.Log);
                if (Math.Abs(logSkew) < skew) return Kind(PreprocessingKind.Log, $"positive, skewness {Fmt(skew)} (log: {Fmt(logSkew)})");
            }
        }
        return Kind(PreprocessingKind.Standardize, "default");
    }

    /// <summary>Margin of an automatic one-sided bound beyond the training extreme, as a fraction of the range (5 %).</summary>
    public const double OneSidedMargin = 0.05;

    /// <summary>
    /// The edge test on one side: spread(k) = distance from the extreme to the k-th nearest value. With
    /// k₁ = max(20, N/100), k_m ≈ √10·k₁ and k₂ = 10·k₁, an edge needs spread(k₂)/spread(k₁) ≥ 5 and each half
    /// (k_m/k₁, k₂/k_m) ≥ 2.2: a density flat up to the edge gives √10 ≈ 3.2 for both halves, a fade or a tail
    /// smeared over a pile-up fails at least one. Values piled up at the extreme (spread(k₁) = 0) count as an edge.
    /// </summary>
    private static bool IsEdge(Func<int, double> spread, int n)
    {
        int k1 = Math.Max(20, n / 100), k2 = Math.Min(10 * k1, n - 1), km = Math.Min((int)Math.Round(k1 * Math.Sqrt(10)), k2 - 1);
        if (k1 >= km) return false;
        double a = spread(k1), m = spread(km), b = spread(k2);
        if (a <= 0) return true;
        return b / a >= 5 && m / a >= 2.2 && b / m >= 2.2;
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

    internal static string Fmt(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

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
                if (c.Lower is { } lo) w.WriteNumber("lower", lo);
                if (c.Upper is { } hi) w.WriteNumber("upper", hi);
                if (c.Kind is PreprocessingKind.Log or PreprocessingKind.LogUpper) w.WriteNumber("shift", c.Shift);
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
                    Lower = c.TryGetProperty("lower", out _) ? Number(c, "lower", j, 0.0) : null,
                    Upper = c.TryGetProperty("upper", out _) ? Number(c, "upper", j, 0.0) : null,
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
