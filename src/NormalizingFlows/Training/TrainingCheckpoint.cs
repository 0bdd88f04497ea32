using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>What a checkpoint records besides the tensors: the run's settings, a hash of its data, and where it stopped.</summary>
internal static class TrainingCheckpoint
{
    public const string SettingsKey = "fingerprint.settings";
    public const string RunKey = "fingerprint.run";
    public const string DataKey = "fingerprint.data";
    public const string DataDescriptionKey = "fingerprint.data.source";
    public const string HistoryKey = "history";

    /// <summary>The settings of <paramref name="o"/> that change the trajectory of a run (not paths, reporting or evaluation batch size).</summary>
    public static SortedDictionary<string, string> Settings(TrainingOptions o)
    {
        var c = CultureInfo.InvariantCulture;
        return new(StringComparer.Ordinal)
        {
            ["Epochs"] = o.Steps is null ? o.Epochs.ToString(c) : "-",
            ["Steps"] = o.Steps?.ToString(c) ?? "-",
            ["BatchSize"] = o.BatchSize.ToString(c),
            ["LearningRate"] = o.LearningRate.ToString("R", c),
            ["Schedule"] = o.Schedule?.GetType().Name ?? "cosine",
            ["WeightDecay"] = o.WeightDecay.ToString("R", c),
            ["ClipNorm"] = o.ClipNorm?.ToString("R", c) ?? "none",
            ["Seed"] = o.Seed.ToString(c),
            ["ValidationFraction"] = o.ValidationFraction.ToString("R", c),
            ["Patience"] = o.Patience.ToString(c),
            ["RestoreBest"] = o.RestoreBest ? "true" : "false",
        };
    }

    /// <summary>"rows×cols sha256:…" of the training and validation events (values, context and weights).</summary>
    public static string DataHash<T>(TrainingData<T> train, TrainingData<T>? validation) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(Tensor<T>? t, string tag)
        {
            h.AppendData(System.Text.Encoding.UTF8.GetBytes(tag + (t is null ? ":none;" : $":{t.ShapeString};")));
            if (t is not null) h.AppendData(MemoryMarshal.AsBytes(t.ReadOnlySpan));
        }
        Add(train.X, "x"); Add(train.Context, "c"); Add(train.Weights, "w");
        Add(validation?.X, "vx"); Add(validation?.Context, "vc"); Add(validation?.Weights, "vw");
        string hex = Convert.ToHexStringLower(h.GetHashAndReset());
        return string.Create(CultureInfo.InvariantCulture, $"{train.Rows}×{train.X.Dim(1)} training + {validation?.Rows ?? 0} validation events, sha256 {hex}");
    }

    /// <summary>"sha256 …" of a module's state (names, shapes and values of its parameters and buffers).</summary>
    public static string ModuleHash<T>(Nn.Module<T> module) where T : unmanaged, IFloatingPointIeee754<T>
        => "sha256 " + FileChecksum.TensorOnly(module.StateDict().Select(kv => SafeTensorEntry.From(kv.Key, kv.Value)));

    public static string Json(IReadOnlyDictionary<string, string> d) => JsonSerializer.Serialize(new SortedDictionary<string, string>(d.ToDictionary(), StringComparer.Ordinal));

    private static Dictionary<string, string> ParseJson(string path, string key, string json)
    {
        try { return JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? []; }
        catch (JsonException ex) { throw new InvalidDataException($"{path}: checkpoint metadata '{key}' is not valid JSON ({ex.Message})", ex); }
    }

    /// <summary>
    /// Throws <see cref="CheckpointMismatchException"/> naming the first setting (the caller's <paramref name="run"/>
    /// settings first, then <paramref name="settings"/>) or the data that differ.
    /// </summary>
    public static void Check(string path, IReadOnlyDictionary<string, string> meta, IReadOnlyDictionary<string, string>? run,
        IReadOnlyDictionary<string, string> settings, string dataHash, string? dataDescription)
    {
        if (!meta.TryGetValue(SettingsKey, out var settingsJson) || !meta.TryGetValue(DataKey, out var savedData))
            throw new CheckpointMismatchException(path, "version",
                $"{path}: the checkpoint does not record the settings and data it was written with (an older version wrote it), so resuming cannot be checked; start afresh without resuming");
        Compare(path, ParseJson(path, RunKey, meta.GetValueOrDefault(RunKey) ?? "{}"), run ?? new Dictionary<string, string>());
        Compare(path, ParseJson(path, SettingsKey, settingsJson), settings);
        if (savedData != dataHash)
        {
            string was = meta.TryGetValue(DataDescriptionKey, out var src) ? $"{src}: {savedData}" : savedData;
            string now = dataDescription is { } d ? $"{d}: {dataHash}" : dataHash;
            throw new CheckpointMismatchException(path, "data",
                $"{path}: this run's data differ from the data the checkpoint was trained on (checkpoint: {was}; now: {now}); resume with the same data and options, or start afresh without resuming");
        }
    }

    private static void Compare(string path, Dictionary<string, string> saved, IReadOnlyDictionary<string, string> now)
    {
        foreach (var key in saved.Keys.Union(now.Keys).Order(StringComparer.Ordinal))
        {
            string? a = saved.GetValueOrDefault(key), b = now.GetValueOrDefault(key);
            if (a == b) continue;
            throw new CheckpointMismatchException(path, key,
                $"{path}: the checkpoint was written with {Show(key, a)}, this run has {Show(key, b)}; resume with the checkpoint's settings, or start afresh without resuming");
        }
    }

    private static string Show(string key, string? value) => value is null ? $"no {key}" : key.StartsWith('-') ? $"{key} {value}" : $"{key} = {value}";

    private static readonly JsonSerializerOptions Numbers = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static string HistoryJson(IEnumerable<EpochRecord> epochs) => JsonSerializer.Serialize(epochs.Select(e => new double?[]
        { e.Epoch, e.Step, e.TrainLoss, e.ValidationLogLikelihood, e.LearningRate, e.Seconds }).ToArray(), Numbers);

    public static List<EpochRecord> ParseHistory(string path, string json)
    {
        try
        {
            var rows = JsonSerializer.Deserialize<double?[][]>(json, Numbers) ?? [];
            return rows.Select(r => r.Length == 6 && r[0] is { } ep && r[1] is { } st && r[2] is { } tl && r[4] is { } lr && r[5] is { } sec
                ? new EpochRecord((int)ep, (long)st, tl, r[3], lr, sec)
                : throw new InvalidDataException($"{path}: a checkpoint history record has {r.Length} fields, not 6")).ToList();
        }
        catch (JsonException ex) { throw new InvalidDataException($"{path}: checkpoint metadata '{HistoryKey}' is not valid JSON ({ex.Message})", ex); }
    }
}
