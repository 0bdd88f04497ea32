using System.Globalization;
using System.Text.Json;
using NormalizingFlows.Data;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// The machine-readable result of one shard of a sharded integration (<c>nflow integrate --shard k/K --result FILE</c>):
/// what <see cref="Merge"/> needs to combine the K shards by inverse variance. Written as a small JSON file
/// (<see cref="Write"/>, <see cref="Read"/>): format "nflow-integration-result", version 1, the run's identity
/// (integrand, dimensions, method, seed, shard "k/K"), estimate, error, χ²/dof (null for one iteration), calls and
/// the iterations {value, error, calls}.
/// </summary>
public sealed record IntegrationShardResult
{
    /// <summary>The format tag of the JSON file.</summary>
    public const string Format = "nflow-integration-result";

    /// <summary>The integrand's name.</summary>
    public required string Integrand { get; init; }

    /// <summary>Its dimension.</summary>
    public required int Dimensions { get; init; }

    /// <summary>"mc", "vegas" or "flow".</summary>
    public required string Method { get; init; }

    /// <summary>The seed of the run (the same on every shard).</summary>
    public required long Seed { get; init; }

    /// <summary>Which shard this is; <see cref="Shard.Whole"/> for an unsharded or merged result.</summary>
    public required Shard Shard { get; init; }

    /// <summary>The estimate of ∫ f dx.</summary>
    public required double Estimate { get; init; }

    /// <summary>Its standard error.</summary>
    public required double Error { get; init; }

    /// <summary>χ²/dof of the iterations around the estimate (NaN for one iteration).</summary>
    public required double ChiSquaredPerDof { get; init; }

    /// <summary>Integrand calls of the integration (all shards' for a merged result).</summary>
    public required long Calls { get; init; }

    /// <summary>Integrand calls of the training, which every shard repeats.</summary>
    public required long TrainingCalls { get; init; }

    /// <summary>The iterations, combined by inverse variance into <see cref="Estimate"/>.</summary>
    public required IReadOnlyList<IterationEstimate> Iterations { get; init; }

    /// <summary>The result of <paramref name="run"/> (shard <paramref name="shard"/> of a run seeded with <paramref name="seed"/>).</summary>
    public static IntegrationShardResult Of(IntegrationRun run, long seed, Shard shard)
    {
        ArgumentNullException.ThrowIfNull(run);
        var r = run.Result;
        return new IntegrationShardResult
        {
            Integrand = r.Integrand, Dimensions = run.Dimensions, Method = run.Method, Seed = seed, Shard = shard,
            Estimate = r.Estimate, Error = r.Error, ChiSquaredPerDof = r.ChiSquaredPerDof, Calls = r.Calls, TrainingCalls = run.TrainingCalls,
            Iterations = r.Iterations,
        };
    }

    /// <summary>
    /// Combines all K shards of one run (each exactly once, in any order): every iteration of every shard by inverse
    /// variance (<see cref="ImportanceSamplingIntegrator.Combine"/>), which is the inverse-variance mean of the shards'
    /// estimates with error (Σ 1/σₖ²)^(−1/2). An <see cref="ArgumentException"/> names a shard of another run, a
    /// duplicate or a missing one.
    /// </summary>
    public static IntegrationShardResult Merge(IReadOnlyList<IntegrationShardResult> shards)
    {
        ArgumentNullException.ThrowIfNull(shards);
        if (shards.Count == 0) throw new ArgumentException("no shard results to merge", nameof(shards));
        var first = shards[0];
        var seen = new bool[first.Shard.Count];
        foreach (var s in shards)
        {
            if (s.Integrand != first.Integrand || s.Dimensions != first.Dimensions || s.Method != first.Method || s.Seed != first.Seed || s.Shard.Count != first.Shard.Count)
                throw new ArgumentException($"shard {s.Shard} ({s.Describe()}) is not of the same run as shard {first.Shard} ({first.Describe()})", nameof(shards));
            if (seen[s.Shard.Index]) throw new ArgumentException($"shard {s.Shard} is given twice", nameof(shards));
            seen[s.Shard.Index] = true;
        }
        var missing = Enumerable.Range(0, seen.Length).Where(i => !seen[i]).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"shard(s) {string.Join(", ", missing.Select(i => new Shard(i, seen.Length)))} of {first.Describe()} are missing", nameof(shards));
        var iterations = shards.OrderBy(s => s.Shard.Index).SelectMany(s => s.Iterations).ToList();
        var (value, error, chi2) = ImportanceSamplingIntegrator.Combine(iterations);
        return first with
        {
            Shard = Shard.Whole, Estimate = value, Error = error, ChiSquaredPerDof = chi2, Calls = shards.Sum(s => s.Calls), Iterations = iterations,
        };
    }

    /// <summary>Writes the result as JSON to <paramref name="path"/>, atomically.</summary>
    public void Write(string path) => AtomicFile.Write(path, fs =>
    {
        using var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("format", Format);
        w.WriteNumber("version", 1);
        w.WriteString("integrand", Integrand);
        w.WriteNumber("dimensions", Dimensions);
        w.WriteString("method", Method);
        w.WriteNumber("seed", Seed);
        w.WriteString("shard", Shard.ToString());
        w.WriteNumber("estimate", Estimate);
        w.WriteNumber("error", Error);
        if (double.IsFinite(ChiSquaredPerDof)) w.WriteNumber("chi2PerDof", ChiSquaredPerDof);
        else w.WriteNull("chi2PerDof");
        w.WriteNumber("calls", Calls);
        w.WriteNumber("trainingCalls", TrainingCalls);
        w.WriteStartArray("iterations");
        foreach (var it in Iterations)
        {
            w.WriteStartObject();
            w.WriteNumber("value", it.Value);
            w.WriteNumber("error", it.Error);
            w.WriteNumber("calls", it.Calls);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    });

    /// <summary>Reads a result written by <see cref="Write"/>; a <see cref="DataFormatException"/> naming the file and the field otherwise.</summary>
    public static IntegrationShardResult Read(string path)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new DataFormatException(path, $"not a JSON integration result ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || Field(root, "format", JsonValueKind.String).GetString() != Format)
                throw new DataFormatException(path, $"not an integration result (no \"format\": \"{Format}\")");
            if (Field(root, "version", JsonValueKind.Number).GetInt32() != 1)
                throw new DataFormatException(path, $"integration result version {root.GetProperty("version")} is not supported (this build reads version 1)");
            Shard shard;
            try { shard = Shard.Parse(Field(root, "shard", JsonValueKind.String).GetString()!); }
            catch (FormatException e) { throw new DataFormatException(path, e.Message); }
            var iterations = Field(root, "iterations", JsonValueKind.Array).EnumerateArray()
                .Select(e => new IterationEstimate(Number(e, "value"), Number(e, "error"), Field(e, "calls", JsonValueKind.Number).GetInt64())).ToList();
            if (iterations.Count == 0) throw new DataFormatException(path, "\"iterations\" is empty");
            var chi2 = root.TryGetProperty("chi2PerDof", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetDouble() : double.NaN;
            return new IntegrationShardResult
            {
                Integrand = Field(root, "integrand", JsonValueKind.String).GetString()!,
                Dimensions = Field(root, "dimensions", JsonValueKind.Number).GetInt32(),
                Method = Field(root, "method", JsonValueKind.String).GetString()!,
                Seed = Field(root, "seed", JsonValueKind.Number).GetInt64(),
                Shard = shard,
                Estimate = Number(root, "estimate"), Error = Number(root, "error"), ChiSquaredPerDof = chi2,
                Calls = Field(root, "calls", JsonValueKind.Number).GetInt64(),
                TrainingCalls = Field(root, "trainingCalls", JsonValueKind.Number).GetInt64(),
                Iterations = iterations,
            };
        }

        JsonElement Field(JsonElement e, string name, JsonValueKind kind) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == kind ? v : throw new DataFormatException(path, $"field \"{name}\" is missing or not a {kind.ToString().ToLowerInvariant()}");

        double Number(JsonElement e, string name)
        {
            double v = Field(e, name, JsonValueKind.Number).GetDouble();
            return double.IsFinite(v) ? v : throw new DataFormatException(path, $"field \"{name}\" is not finite");
        }
    }

    private string Describe() => string.Create(CultureInfo.InvariantCulture, $"{Integrand} {Dimensions}-D {Method}, seed {Seed}, {Shard.Count} shards");
}
