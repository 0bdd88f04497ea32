using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.IO;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Models;

/// <summary>
/// The model file: ONE safetensors file (conventionally "*.nflow") whose tensors are the full flow's state dictionary
/// (preprocessing constants under "transform.0.", the builder's flow under "transform.1." — or "transform." without
/// preprocessing) and whose "__metadata__" holds, as JSON strings: "nflow.format" (layout version, currently 1),
/// "nflow.library", "nflow.flow" (<see cref="FlowSpec"/>), "nflow.preprocessing" (<see cref="PreprocessingSpec"/>, absent
/// without preprocessing), "nflow.columns" (array of names), "nflow.history" (epochs, outcome, best epoch, steps;
/// absent without history), "nflow.seed", "nflow.created", "nflow.checksum" (<see cref="FileChecksum"/>) and
/// "nflow.parameters"; a conditional model adds "nflow.context-columns" (names), and one whose context goes through a
/// preprocessing or an embedding "nflow.context-preprocessing" (<see cref="PreprocessingSpec"/>) and "nflow.embedding" (<see cref="EmbeddingSpec"/>),
/// its tensors nest under "transform.inner." (the flow) and "transform.summary." (context preprocessing and
/// embedding), and such a file is layout version 2 (older libraries refuse it). User metadata keeps its own keys. The checksum covers the tensors and every metadata entry
/// (<see cref="FileChecksum"/>); files written before it checksum the tensors alone and still load. Files are written atomically; loading checks everything and
/// throws <see cref="ModelFileException"/> naming the file and the problem. Several named models that work together
/// (e.g. a CaloFlow's flows) go to one bundle file: <see cref="SaveBundle{T}"/>, <see cref="LoadBundle{T}"/>.
/// </summary>
public static class ModelFile
{
    /// <summary>The newest layout version this library writes and reads (version 1 is written for models without a context map).</summary>
    public const int FormatVersion = 2;

    /// <summary>The conventional file extension.</summary>
    public const string Extension = ".nflow";

    /// <summary>The kind name of a flow model file (what <see cref="KindOf"/> returns for one).</summary>
    public const string Kind = FileKinds.FlowModel;

    /// <summary>
    /// The kind of a safetensors file from its metadata: <see cref="Kind"/> for a flow model file ("nflow.format"
    /// present), else its "kind" entry (e.g. "nflow-checkpoint"; other model kinds name themselves there), else null.
    /// </summary>
    public static string? KindOf(IReadOnlyDictionary<string, string> metadata) => FileKinds.Of(metadata);

    /// <summary>Prefix reserved for the format's own metadata keys.</summary>
    public const string ReservedPrefix = "nflow.";

    private const string KeyFormat = FileKinds.FlowModelFormatKey, KeyLibrary = "nflow.library", KeyFlow = "nflow.flow", KeyPreprocessing = "nflow.preprocessing",
        KeyColumns = "nflow.columns", KeyHistory = "nflow.history", KeySeed = "nflow.seed", KeyCreated = "nflow.created",
        KeyChecksum = "nflow.checksum", KeyParameters = "nflow.parameters", KeyContextColumns = "nflow.context-columns",
        KeyContextPreprocessing = "nflow.context-preprocessing", KeyEmbedding = "nflow.embedding";

    /// <summary>The kind name of a model bundle file (what <see cref="KindOf"/> returns for one).</summary>
    public const string BundleKind = "nflow-bundle";

    /// <summary>The newest bundle layout version this library writes and reads.</summary>
    public const int BundleFormatVersion = 1;

    /// <summary>The metadata key of a bundle's role.</summary>
    public const string BundleRoleKey = "nflow.role";

    private const string KeyBundle = "nflow.bundle", KeyRole = BundleRoleKey, KeyParts = "nflow.parts";

    /// <summary>
    /// Writes several named flow models to ONE safetensors file at <paramref name="path"/>, atomically: part
    /// <c>name</c>'s tensors and metadata (exactly what <see cref="Save{T}"/> writes for it, less the checksum) under the
    /// prefix "name/"; the file's own metadata "kind" = <see cref="BundleKind"/>, "nflow.bundle" (layout version),
    /// "nflow.role" (what the parts make together, e.g. "caloflow"), "nflow.parts" (the names in order),
    /// "nflow.library", "nflow.created", one <see cref="FileChecksum"/> over everything, and
    /// <paramref name="metadata"/> (free keys: not "kind", no "nflow." prefix, no '/').
    /// </summary>
    public static void SaveBundle<T>(string path, string role, IEnumerable<KeyValuePair<string, FlowModel<T>>> parts, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(role);
        ArgumentNullException.ThrowIfNull(parts);
        var state = new List<KeyValuePair<string, Tensor<T>>>();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            if (key == FileKinds.KindKey || key.StartsWith(ReservedPrefix, StringComparison.Ordinal) || key.Contains('/'))
                throw new ArgumentException($"bundle metadata key '{key}' is reserved ('{FileKinds.KindKey}', the '{ReservedPrefix}' prefix and '/' belong to the format)", nameof(metadata));
            meta[key] = value;
        }
        var names = new List<string>();
        foreach (var (name, model) in parts)
        {
            if (string.IsNullOrEmpty(name) || name.Contains('/')) throw new ArgumentException($"bundle part name '{name}' must be non-empty and without '/'", nameof(parts));
            if (names.Contains(name)) throw new ArgumentException($"bundle part '{name}' is given twice", nameof(parts));
            names.Add(name);
            var (s, m) = Entries(model);
            foreach (var (k, v) in s) state.Add(new($"{name}/{k}", v));
            foreach (var (k, v) in m) meta[$"{name}/{k}"] = v;
        }
        if (names.Count == 0) throw new ArgumentException("a bundle needs at least one part", nameof(parts));
        meta[FileKinds.KindKey] = BundleKind;
        meta[KeyBundle] = BundleFormatVersion.ToString(CultureInfo.InvariantCulture);
        meta[KeyRole] = role;
        meta[KeyParts] = JsonSerializer.Serialize(names);
        meta[KeyLibrary] = typeof(ModelFile).Assembly.GetName().Version?.ToString() ?? "unknown";
        meta[KeyCreated] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        SafeTensors.Save(path, state, FileChecksum.Stamp(state, meta));
    }

    /// <summary>
    /// Reads the bundle written by <see cref="SaveBundle{T}"/> at <paramref name="path"/>: its checksum, then every part
    /// as <see cref="Load{T}(string, bool)"/> checks a model file (errors name the part). A file of another kind, or (with
    /// <paramref name="role"/>) a bundle of another role, is refused with <see cref="ModelFileException.FileKind"/> set.
    /// </summary>
    public static ModelBundle<T> LoadBundle<T>(string path, string? role = null, bool convert = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeTensorsFile file;
        try { file = SafeTensors.Load(path); }
        catch (SafeTensorsFormatException ex) { throw new ModelFileException(path, $"not a valid model file (truncated or corrupt?): {ex.Problem}", ex); }
        var m = file.Metadata;
        if (KindOf(m) is var kind && kind != BundleKind)
            throw new ModelFileException(path, kind is null ? $"not a model bundle (metadata '{FileKinds.KindKey}' is missing, expected '{BundleKind}')"
                : $"this is a '{kind}' file, not a model bundle") { FileKind = kind };
        string checksum = Required(m, KeyChecksum, path);
        FileChecksum.Verify(file, path, "model bundle");
        string versionText = Required(m, KeyBundle, path);
        if (!int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int version) || version < 1)
            throw new ModelFileException(path, $"'{KeyBundle}' is '{versionText}', not a format version");
        if (version > BundleFormatVersion)
            throw new ModelFileException(path, $"bundle format version {version} is newer than this library reads (up to {BundleFormatVersion}); upgrade NormalizingFlows to load it");
        string fileRole = Required(m, KeyRole, path);
        if (role is not null && fileRole != role)
            throw new ModelFileException(path, $"this is a '{fileRole}' bundle, not a '{role}' one") { FileKind = BundleKind };
        string[] names;
        try { names = JsonSerializer.Deserialize<string[]>(Required(m, KeyParts, path)) ?? throw new JsonException("null"); }
        catch (JsonException ex) { throw new ModelFileException(path, $"invalid '{KeyParts}' metadata (expected a JSON array of names): {ex.Message}", ex); }
        if (names.Length == 0 || names.Any(n => string.IsNullOrEmpty(n) || n.Contains('/')) || names.Distinct(StringComparer.Ordinal).Count() != names.Length)
            throw new ModelFileException(path, $"'{KeyParts}' must name distinct non-empty parts without '/'");
        foreach (var e in file.Tensors)
            if (!names.Any(n => e.Name.StartsWith(n + "/", StringComparison.Ordinal)))
                throw new ModelFileException(path, $"unexpected tensor '{e.Name}': it belongs to no part ({string.Join(", ", names)})");
        var models = new OrderedDictionary<string, FlowModel<T>>(StringComparer.Ordinal);
        foreach (string name in names)
        {
            string prefix = name + "/";
            var partMeta = PartMetadata(m, name);
            var tensors = file.Tensors.Where(e => e.Name.StartsWith(prefix, StringComparison.Ordinal)).Select(e => e.DType == SafeTensorDType.F32
                ? SafeTensorEntry.From(e.Name[prefix.Length..], e.As<float>()) : SafeTensorEntry.From(e.Name[prefix.Length..], e.As<double>())).ToList();
            var info = Parse(path, name, partMeta, new SafeTensorsFile(tensors, partMeta), checksum, Required(partMeta, KeyFormat, path, name));
            models[name] = Build<T>(info, name, convert);
        }
        var free = m.Where(kv => kv.Key != FileKinds.KindKey && !kv.Key.StartsWith(ReservedPrefix, StringComparison.Ordinal) && !kv.Key.Contains('/'))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new ModelBundle<T>(fileRole, models, free, m.TryGetValue(KeyCreated, out var created) ? created : null, new FileInfo(path).Length);
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> atomically (a crash never leaves a half-written file behind).</summary>
    public static void Save<T>(string path, FlowModel<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (state, meta) = Entries(model);
        SafeTensors.Save(path, state, FileChecksum.Stamp(state, meta));
    }

    // the tensors and metadata of one model (without the checksum)
    private static (OrderedDictionary<string, Tensor<T>> State, Dictionary<string, string> Metadata) Entries<T>(FlowModel<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        string dtype = FlowSpec.DTypeOf<T>();
        var spec = model.Spec.DType == dtype ? model.Spec : model.Spec with { DType = dtype };
        foreach (var key in model.Metadata.Keys)
            if (key.StartsWith(ReservedPrefix, StringComparison.Ordinal))
                throw new ArgumentException($"metadata key '{key}' uses the reserved prefix '{ReservedPrefix}'");
        var state = model.Flow.StateDict();
        bool contextMap = model.ContextPreprocessing is not null || model.EmbeddingSpec is not null;
        var meta = new Dictionary<string, string>(model.Metadata, StringComparer.Ordinal)
        {
            [KeyFormat] = (contextMap ? FormatVersion : 1).ToString(CultureInfo.InvariantCulture),
            [KeyLibrary] = typeof(ModelFile).Assembly.GetName().Version?.ToString() ?? "unknown",
            [KeyFlow] = spec.ToJson(),
            [KeyColumns] = JsonSerializer.Serialize(model.Columns),
            [KeySeed] = model.Seed.ToString(CultureInfo.InvariantCulture),
            [KeyCreated] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            [KeyParameters] = model.ParameterCount().ToString(CultureInfo.InvariantCulture),
        };
        if (model.PreprocessingSpec is { } pre) meta[KeyPreprocessing] = pre.ToJson();
        if (model.History is { } history) meta[KeyHistory] = HistoryToJson(history);
        if (model.ContextFeatures > 0) meta[KeyContextColumns] = JsonSerializer.Serialize(model.ContextColumns);
        if (contextMap)
        {
            if (model.ContextPreprocessing is { } cp) meta[KeyContextPreprocessing] = cp.Spec.ToJson();
            if (model.EmbeddingSpec is { } es) meta[KeyEmbedding] = es.ToJson();
        }
        return (state, meta);
    }

    /// <summary>
    /// Reads and validates the model file at <paramref name="path"/> (its safetensors layout, its checksum, then its
    /// metadata) without building the flow. A file of another kind is refused with <see cref="ModelFileException.FileKind"/> set.
    /// </summary>
    public static ModelFileInfo ReadInfo(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeTensorsFile file;
        try { file = SafeTensors.Load(path); }
        catch (SafeTensorsFormatException ex) { throw new ModelFileException(path, $"not a valid model file (truncated or corrupt?): {ex.Problem}", ex); }
        var m = file.Metadata;
        ModelFileException Fail(string problem, Exception? inner = null) => new(path, problem, inner);

        if (!m.TryGetValue(KeyFormat, out var formatText))
        {
            if (m.TryGetValue("kind", out var kind) && kind == MaximumLikelihoodTrainer<float>.CheckpointKind)
                throw new ModelFileException(path, $"this is a training checkpoint, not a model file (no '{KeyFormat}' metadata); resume training from it or save the model with ModelFile.Save") { FileKind = kind };
            if (kind == BundleKind)
                throw new ModelFileException(path, $"this is a model bundle (role '{(m.TryGetValue(KeyRole, out var role) ? role : "?")}'), not a single flow model file; load it with ModelFile.LoadBundle") { FileKind = kind };
            if (kind is not null)
                throw new ModelFileException(path, $"this is a '{kind}' file, not a flow model file (no '{KeyFormat}' metadata)") { FileKind = kind };
            throw Fail($"not an nflow model file: the safetensors metadata has no '{KeyFormat}' entry");
        }
        // the checksum first: nothing below reads a value that was not written so
        string checksum = Required(m, KeyChecksum, path);
        if (FileChecksum.IsTensorOnly(checksum))
        {
            string actual = FileChecksum.TensorOnly(file.Tensors);
            if (!string.Equals(checksum, actual, StringComparison.OrdinalIgnoreCase))
                throw Fail($"the tensor data do not match their checksum ({KeyChecksum} {checksum}, computed {actual}): the file is corrupt");
        }
        else FileChecksum.Verify(file, path, "model file");
        return Parse(path, null, m, file, checksum, formatText);
    }

    // the metadata of one model (a whole file, or a bundle's part), after its checksum was verified
    private static ModelFileInfo Parse(string path, string? part, IReadOnlyDictionary<string, string> m, SafeTensorsFile file, string checksum, string formatText)
    {
        ModelFileException Fail(string problem, Exception? inner = null) => Failure(path, part, problem, inner);
        if (!int.TryParse(formatText, NumberStyles.None, CultureInfo.InvariantCulture, out int version) || version < 1)
            throw Fail($"'{KeyFormat}' is '{formatText}', not a format version");
        if (version > FormatVersion)
            throw Fail($"format version {version} is newer than this library reads (up to {FormatVersion}); upgrade NormalizingFlows to load it");

        FlowSpec spec;
        try { spec = FlowSpec.FromJson(Required(m, KeyFlow, path, part)); }
        catch (FormatException ex) { throw Fail($"invalid '{KeyFlow}' metadata: {ex.Message}", ex); }

        PreprocessingSpec? pre = null;
        if (m.TryGetValue(KeyPreprocessing, out var preText))
        {
            try { pre = PreprocessingSpec.FromJson(preText); }
            catch (FormatException ex) { throw Fail($"invalid '{KeyPreprocessing}' metadata: {ex.Message}", ex); }
            if (pre.Count != spec.Features) throw Fail($"the preprocessing has {pre.Count} columns but the flow {spec.Features} features");
        }

        string[] columns;
        try { columns = JsonSerializer.Deserialize<string[]>(Required(m, KeyColumns, path, part)) ?? throw new JsonException("null"); }
        catch (JsonException ex) { throw Fail($"invalid '{KeyColumns}' metadata (expected a JSON array of strings): {ex.Message}", ex); }
        if (columns.Length != spec.Features) throw Fail($"'{KeyColumns}' names {columns.Length} columns but the flow has {spec.Features} features");
        if (columns.Any(string.IsNullOrEmpty)) throw Fail($"'{KeyColumns}' holds an empty column name");
        if (pre is not null && !columns.SequenceEqual(pre.Names))
            throw Fail($"'{KeyColumns}' ({string.Join(", ", columns)}) disagrees with the preprocessing's columns ({string.Join(", ", pre.Names)})");

        var (contextColumns, contextPre, embedding) = ReadContext(m, spec, Fail);

        TrainingHistory? history = null;
        if (m.TryGetValue(KeyHistory, out var historyText))
        {
            try { history = HistoryFromJson(historyText); }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
            { throw Fail($"invalid '{KeyHistory}' metadata: {ex.Message}", ex); }
        }

        string seedText = Required(m, KeySeed, path, part);
        if (!long.TryParse(seedText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long seed))
            throw Fail($"'{KeySeed}' is '{seedText}', not an integer");

        var user = m.Where(kv => !kv.Key.StartsWith(ReservedPrefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        long size = new FileInfo(path).Length;
        return new ModelFileInfo(path, size, version, spec, pre, columns, history, seed,
            m.TryGetValue(KeyCreated, out var created) ? created : null, m.TryGetValue(KeyLibrary, out var lib) ? lib : null, user, file, checksum)
        {
            ContextColumns = contextColumns, ContextPreprocessing = contextPre, Embedding = embedding,
        };
    }

    // the context map's entries (absent from version-1 files): names, preprocessing and embedding, checked against the spec
    private static (string[]? Columns, PreprocessingSpec? Preprocessing, EmbeddingSpec? Embedding) ReadContext(
        IReadOnlyDictionary<string, string> m, FlowSpec spec, Func<string, Exception?, ModelFileException> fail)
    {
        bool hasPre = m.TryGetValue(KeyContextPreprocessing, out var preText), hasEmb = m.TryGetValue(KeyEmbedding, out var embText);
        bool hasColumns = m.ContainsKey(KeyContextColumns);
        if (!hasPre && !hasEmb && !hasColumns) return (null, null, null);
        if (spec.ContextFeatures == 0)
            throw fail($"the flow is unconditional but the file has '{(hasPre ? KeyContextPreprocessing : hasEmb ? KeyEmbedding : KeyContextColumns)}' metadata", null);
        string[] columns;
        try { columns = JsonSerializer.Deserialize<string[]>(m.TryGetValue(KeyContextColumns, out var t) ? t : throw fail($"the metadata has no '{KeyContextColumns}' entry", null)) ?? throw new JsonException("null"); }
        catch (JsonException ex) { throw fail($"invalid '{KeyContextColumns}' metadata (expected a JSON array of strings): {ex.Message}", ex); }
        if (columns.Length == 0 || columns.Any(string.IsNullOrEmpty)) throw fail($"'{KeyContextColumns}' must name every context column (none empty)", null);
        PreprocessingSpec? pre = null;
        if (hasPre)
        {
            try { pre = PreprocessingSpec.FromJson(preText!); }
            catch (FormatException ex) { throw fail($"invalid '{KeyContextPreprocessing}' metadata: {ex.Message}", ex); }
            if (!columns.SequenceEqual(pre.Names))
                throw fail($"'{KeyContextColumns}' ({string.Join(", ", columns)}) disagrees with the context preprocessing's columns ({string.Join(", ", pre.Names)})", null);
        }
        EmbeddingSpec? emb = null;
        if (hasEmb)
        {
            try { emb = EmbeddingSpec.FromJson(embText!); emb.Validate(columns.Length); }
            catch (Exception ex) when (ex is FormatException or ArgumentException) { throw fail($"invalid '{KeyEmbedding}' metadata: {ex.Message}", ex); }
            if (emb.Features != spec.ContextFeatures)
                throw fail($"the embedding gives {emb.Features} features but the flow takes {spec.ContextFeatures} context features", null);
        }
        else if (columns.Length != spec.ContextFeatures)
            throw fail($"'{KeyContextColumns}' names {columns.Length} context columns but the flow takes {spec.ContextFeatures} context features", null);
        return (columns, pre, emb);
    }

    private static string Required(IReadOnlyDictionary<string, string> m, string key, string path, string? part = null)
        => m.TryGetValue(key, out var v) ? v : throw Failure(path, part, $"the metadata has no '{key}' entry");

    // an error of the file at path, or of its bundle part
    private static ModelFileException Failure(string path, string? part, string problem, Exception? inner = null)
        => new(path, part is null ? problem : $"part '{part}': {problem}", inner);

    /// <summary>
    /// Loads the model file at <paramref name="path"/> as <see cref="FlowModel{T}"/>: validates the metadata
    /// (<see cref="ReadInfo"/>), rebuilds the flow and preprocessing from their specs, checks that the stored tensors
    /// are exactly the expected ones (names, shapes, element type matching the spec's dtype and <typeparamref name="T"/>)
    /// and that every value is finite, and loads them. With <paramref name="convert"/> a float32 model loads as double or vice versa.
    /// </summary>
    public static FlowModel<T> Load<T>(string path, bool convert = false) where T : unmanaged, IFloatingPointIeee754<T>
        => Build<T>(ReadInfo(path), null, convert);

    /// <summary>
    /// <see cref="Load{T}(string, bool)"/> from what <see cref="ReadInfo"/> already read and checked (the file is not
    /// read again), e.g. after choosing <typeparamref name="T"/> by <see cref="ModelFileInfo.Spec"/>'s dtype.
    /// </summary>
    public static FlowModel<T> Load<T>(ModelFileInfo info, bool convert = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(info);
        return Build<T>(info, null, convert);
    }

    // the model of info (a whole file, or a bundle's part), its tensors checked and loaded
    private static FlowModel<T> Build<T>(ModelFileInfo info, string? part, bool convert) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string path = info.Path;
        ModelFileException Fail(string problem, Exception? inner = null) => Failure(path, part, problem, inner);
        string want = FlowSpec.DTypeOf<T>();
        if (info.Spec.DType != want && !convert)
            throw Fail($"the model is {info.Spec.DType} but was loaded as {want}; load it with Load<{(info.Spec.DType == "float32" ? "float" : "double")}> or pass convert: true");
        var fileDType = info.Spec.DType == "float32" ? SafeTensorDType.F32 : SafeTensorDType.F64;

        FlowModel<T> model;
        try
        {
            var pre = info.Preprocessing is null ? null : PreprocessingPipeline.Create<T>(info.Preprocessing);
            var contextPre = info.ContextPreprocessing is null ? null : PreprocessingPipeline.Create<T>(info.ContextPreprocessing);
            model = new FlowModel<T>(info.Spec, pre, info.Columns, contextPre, info.Embedding, info.ContextColumns);
        }
        catch (ArgumentException ex) { throw Fail($"cannot rebuild the model from its metadata: {ex.Message}", ex); }

        var own = model.Flow.StateDict();
        var stored = info.File;
        foreach (var (name, target) in own)
        {
            if (!stored.Contains(name))
                throw Fail($"tensor '{name}' (shape {target.ShapeString}) is missing: the file does not match its architecture ({info.Spec.Summary()})");
            var e = stored[name];
            if (!e.Shape.AsSpan().SequenceEqual(target.Shape))
                throw Fail($"tensor '{name}' has shape {Tensor<T>.FormatShape(e.Shape)} but the architecture ({info.Spec.Summary()}) needs {target.ShapeString}");
            if (e.DType != fileDType)
                throw Fail($"tensor '{name}' is stored as {e.DType} but the model's dtype is {info.Spec.DType}");
        }
        foreach (var e in stored.Tensors)
            if (!own.ContainsKey(e.Name)) throw Fail($"unexpected tensor '{e.Name}': the architecture ({info.Spec.Summary()}) has no such parameter or buffer");

        var state = new Dictionary<string, Tensor<T>>(StringComparer.Ordinal);
        foreach (var (name, _) in own)
        {
            var t = stored[name].As<T>(convert: true);
            var s = t.ReadOnlySpan;
            for (int i = 0; i < s.Length; i++)
                if (!T.IsFinite(s[i])) throw Fail($"tensor '{name}' holds a non-finite value ({s[i]}) at index {i}");
            state[name] = t;
        }
        try { model.Flow.LoadStateDict(state); }
        catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException) { throw Fail(ex.Message, ex); }
        model.History = info.History;
        model.Seed = info.Seed;
        foreach (var (k, v) in info.Metadata) model.Metadata[k] = v;
        model.Flow.Eval();
        return model;
    }

    /// <summary>
    /// A human-readable multi-line summary of the model file (what <c>nflow info</c> prints): architecture, parameter
    /// count, columns with their preprocessing and training ranges, training history, seed, creation time, file size.
    /// Loads (and so fully checks) the file. A bundle (<see cref="SaveBundle{T}"/>) is described by its role and
    /// metadata, then each part as a model file.
    /// </summary>
    public static string Describe(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (IsBundle(path)) return DescribeBundle(path);
        var info = ReadInfo(path);
        return info.Spec.DType == "float32" ? Describe(info, Load<float>(path)) : Describe(info, Load<double>(path));
    }

    private static string Describe<T>(ModelFileInfo info, FlowModel<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("model file    ").AppendLine(info.Path);
        sb.Append("format        ").Append(info.FormatVersion).Append(info.Library is null ? "" : $" (written by NormalizingFlows {info.Library})").AppendLine();
        sb.Append("file size     ").AppendLine(FormatBytes(info.FileSize));
        sb.Append("architecture  ").AppendLine(info.Spec.Summary());
        sb.Append("parameters    ").AppendLine(model.ParameterCount().ToString("N0", inv));
        sb.Append("seed          ").AppendLine(info.Seed.ToString(inv));
        if (info.Created is not null) sb.Append("created       ").AppendLine(info.Created);
        sb.Append("columns       ").Append(info.Columns.Count).AppendLine(info.Preprocessing is null ? " (no preprocessing)" : "");
        int width = Math.Max(6, info.Columns.Max(c => c.Length));
        for (int j = 0; j < info.Columns.Count; j++)
        {
            sb.Append("  ").Append(info.Columns[j].PadRight(width));
            if (model.Preprocessing is { } p && info.Preprocessing is { } ps)
            {
                var col = ps.Columns[j];
                string chain = col.Chain.Count == 0 ? "none" : string.Join(" → ", col.Chain);
                sb.Append("  ").Append(PreprocessingSpec.KindName(col.Kind).PadRight(12)).Append("  ").Append(chain.PadRight(32));
                sb.Append("  range [").Append(Fmt(p.TrainingMin[j])).Append(", ").Append(Fmt(p.TrainingMax[j])).Append(']');
                if (col.Reason is not null) sb.Append("  (").Append(col.Reason).Append(')');
            }
            sb.AppendLine();
        }
        if (info.History is { } h && h.Epochs.Count > 0)
        {
            var last = h.Epochs[^1];
            sb.Append("training      ").Append(h.Epochs.Count).Append(" epochs, ").Append(h.Steps.ToString(inv)).Append(" steps, ")
              .Append(h.Outcome.ToString().ToLowerInvariant()).Append(", ").Append(h.Epochs.Sum(e => e.Seconds).ToString("F1", inv)).AppendLine(" s");
            sb.Append("  final train loss ").AppendLine(last.TrainLoss.ToString("G6", inv));
            var best = h.Epochs.Where(e => e.ValidationLogLikelihood is not null).OrderByDescending(e => e.ValidationLogLikelihood).FirstOrDefault();
            if (best is not null)
                sb.Append("  best validation log-likelihood ").Append(best.ValidationLogLikelihood!.Value.ToString("G6", inv)).Append(" (epoch ").Append(best.Epoch).AppendLine(")");
            if (h.BestEpoch is { } be) sb.Append("  parameters from epoch ").Append(be).AppendLine();
        }
        else sb.AppendLine("training      no history recorded");
        if (info.ContextColumns is { } cc)
        {
            sb.Append("context       ").Append(string.Join(", ", cc));
            if (info.ContextPreprocessing is { } cps) sb.Append("; preprocessing ").Append(string.Join(", ", cps.Columns.Select(c => PreprocessingSpec.KindName(c.Kind))));
            if (info.Embedding is { } e) sb.Append("; embedding ").Append(e.Kind).Append(" → ").Append(e.Features);
            sb.AppendLine();
        }
        foreach (var (k, v) in info.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) sb.Append("  ").Append(k).Append(" = ").AppendLine(v);
        return sb.ToString();
    }

    // the metadata of a bundle's part, without its prefix
    private static Dictionary<string, string> PartMetadata(IReadOnlyDictionary<string, string> m, string part)
        => m.Where(kv => kv.Key.StartsWith(part + "/", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[(part.Length + 1)..], kv => kv.Value, StringComparer.Ordinal);

    // true when the file's header names it a bundle (everything else is left to the loaders)
    private static bool IsBundle(string path)
    {
        try { return KindOf(SafeTensors.Load(path).Metadata) == BundleKind; }
        catch (SafeTensorsFormatException) { return false; }
    }

    private static string DescribeBundle(string path)
    {
        var bundle = LoadBundle<float>(path, convert: true);
        var sb = new StringBuilder();
        sb.Append("model bundle  ").AppendLine(path);
        sb.Append("role          ").AppendLine(bundle.Role);
        sb.Append("file size     ").AppendLine(FormatBytes(bundle.FileSize));
        if (bundle.Created is not null) sb.Append("created       ").AppendLine(bundle.Created);
        sb.Append("parts         ").Append(bundle.Parts.Count).Append(": ").AppendLine(string.Join(", ", bundle.Parts.Select(kv =>
            $"{kv.Key} ({kv.Value.ParameterCount().ToString("N0", CultureInfo.InvariantCulture)} parameters)")));
        foreach (var (k, v) in bundle.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) sb.Append("  ").Append(k).Append(" = ").AppendLine(v);
        var file = SafeTensors.Load(path);
        foreach (var (name, model) in bundle.Parts)
        {
            sb.AppendLine().Append("part '").Append(name).AppendLine("'");
            var info = Parse(path, name, PartMetadata(file.Metadata, name), file, "", file.Metadata[$"{name}/{KeyFormat}"]);
            foreach (var line in Describe(info, model).Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries)) sb.Append("  ").AppendLine(line);
        }
        return sb.ToString();
    }

    private static string Fmt<T>(T v) where T : unmanaged, IFloatingPointIeee754<T> => double.CreateTruncating(v).ToString("G6", CultureInfo.InvariantCulture);

    private static string FormatBytes(long bytes) => bytes < 1024 ? $"{bytes} B"
        : bytes < 1 << 20 ? (bytes / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KiB"
        : (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) + " MiB";

    /// <summary>The older tensor-only checksum (bare hex SHA-256), still accepted on load.</summary>
    internal static string Checksum(IEnumerable<SafeTensorEntry> entries) => FileChecksum.TensorOnly(entries);

    /// <summary>
    /// The JSON of a training history as stored in model files (outcome, best epoch, steps and the epochs; non-finite
    /// numbers as "NaN"/"Infinity" strings), for other file kinds that store one (read back with <see cref="HistoryFromJson"/>).
    /// </summary>
    public static string HistoryToJson(TrainingHistory h)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("outcome", h.Outcome.ToString());
            if (h.BestEpoch is { } be) w.WriteNumber("bestEpoch", be); else w.WriteNull("bestEpoch");
            w.WriteNumber("steps", h.Steps);
            w.WriteStartArray("epochs");
            foreach (var e in h.Epochs)
            {
                w.WriteStartObject();
                w.WriteNumber("epoch", e.Epoch);
                w.WriteNumber("step", e.Step);
                WriteDouble(w, "trainLoss", e.TrainLoss);
                if (e.ValidationLogLikelihood is { } v) WriteDouble(w, "validationLogLikelihood", v); else w.WriteNull("validationLogLikelihood");
                WriteDouble(w, "learningRate", e.LearningRate);
                WriteDouble(w, "seconds", e.Seconds);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    // JSON has no NaN or infinities: those are written as the strings "NaN", "Infinity", "-Infinity"
    private static void WriteDouble(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteString(name, v.ToString(CultureInfo.InvariantCulture) switch { "∞" => "Infinity", "-∞" => "-Infinity", var s => s });
    }

    private static double ReadDouble(JsonElement e, string name)
    {
        var v = e.GetProperty(name);
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        if (v.ValueKind == JsonValueKind.String)
            return v.GetString() switch
            {
                "NaN" => double.NaN,
                "Infinity" => double.PositiveInfinity,
                "-Infinity" => double.NegativeInfinity,
                var s => throw new FormatException($"\"{name}\" is \"{s}\", not a number"),
            };
        throw new FormatException($"\"{name}\" must be a number, found {v.ValueKind}");
    }

    /// <summary>
    /// Parses the JSON written by <see cref="HistoryToJson"/>; throws <see cref="JsonException"/>,
    /// <see cref="FormatException"/>, <see cref="InvalidOperationException"/> or <see cref="KeyNotFoundException"/> for bad input.
    /// </summary>
    public static TrainingHistory HistoryFromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"expected an object, found {root.ValueKind}");
        var h = new TrainingHistory
        {
            Outcome = Enum.TryParse<TrainingOutcome>(root.GetProperty("outcome").GetString(), out var o) ? o
                : throw new FormatException($"unknown outcome '{root.GetProperty("outcome").GetString()}'"),
            BestEpoch = root.TryGetProperty("bestEpoch", out var be) && be.ValueKind == JsonValueKind.Number ? be.GetInt32() : null,
            Steps = root.GetProperty("steps").GetInt64(),
        };
        foreach (var e in root.GetProperty("epochs").EnumerateArray())
        {
            var val = e.GetProperty("validationLogLikelihood");
            h.Epochs.Add(new EpochRecord(e.GetProperty("epoch").GetInt32(), e.GetProperty("step").GetInt64(), ReadDouble(e, "trainLoss"),
                val.ValueKind == JsonValueKind.Null ? null : ReadDouble(e, "validationLogLikelihood"), ReadDouble(e, "learningRate"), ReadDouble(e, "seconds")));
        }
        return h;
    }
}
