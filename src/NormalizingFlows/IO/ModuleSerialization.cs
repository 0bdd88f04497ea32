using System.Numerics;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.IO;

/// <summary>
/// Saving and loading modules and optimizers as safetensors files through their state dictionaries, and combined
/// checkpoints (model tensors under "model.", optimizer state under "optimizer."). Every file written here carries a
/// <see cref="FileChecksum"/>; loading verifies it (a checkpoint must have one; a plain module file may come from
/// another safetensors writer and is checked when it has one). Checkpoint problems are <see cref="ModelFileException"/>s.
/// </summary>
public static class ModuleSerialization
{
    private const string ModelPrefix = "model.";
    private const string OptimizerPrefix = "optimizer.";
    private const string ExtraPrefix = "extra.";

    /// <summary>Writes the module's parameters and buffers (its <see cref="Module{T}.StateDict"/>) atomically to <paramref name="path"/>.</summary>
    public static void Save<T>(this Module<T> module, string path, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(module);
        var state = module.StateDict();
        SafeTensors.Save(path, state, FileChecksum.Stamp(state, metadata));
    }

    /// <summary>
    /// Loads a file written by <see cref="Save{T}(Module{T}, string, IReadOnlyDictionary{string, string}?)"/> into the module
    /// (names and shapes checked, see <see cref="Module{T}.LoadStateDict"/>); converts F32 ↔ F64 only with
    /// <paramref name="convert"/>. Returns the file's metadata.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Load<T>(this Module<T> module, string path, bool strict = true, bool convert = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(module);
        var file = SafeTensors.Load(path);
        if (file.Metadata.ContainsKey(FileChecksum.MetadataKey)) FileChecksum.Verify(file, path, "module file");
        module.LoadStateDict(Convert<T>(file, path, convert), strict);
        return file.Metadata;
    }

    /// <summary>Writes the optimizer's state (<see cref="Optimizer{T}.ExportState"/>) atomically to <paramref name="path"/>.</summary>
    public static void Save<T>(this Optimizer<T> optimizer, string path, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        SafeTensors.Save(path, optimizer.ExportState(), metadata);
    }

    /// <summary>Restores optimizer state written by <see cref="Save{T}(Optimizer{T}, string, IReadOnlyDictionary{string, string}?)"/>; returns the metadata.</summary>
    public static IReadOnlyDictionary<string, string> Load<T>(this Optimizer<T> optimizer, string path, bool convert = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var file = SafeTensors.Load(path);
        optimizer.ImportState(Convert<T>(file, path, convert));
        return file.Metadata;
    }

    /// <summary>
    /// Writes a module and (optionally) its optimizer into one file atomically; <paramref name="extra"/> tensors (a
    /// trainer's best parameters, say) are stored beside them under "extra." and come back from
    /// <c>LoadCheckpoint</c> (the overload with <c>out extra</c>).
    /// </summary>
    public static void SaveCheckpoint<T>(string path, Module<T> module, Optimizer<T>? optimizer, IReadOnlyDictionary<string, string>? metadata = null,
        IEnumerable<KeyValuePair<string, Tensor<T>>>? extra = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(module);
        var all = new List<KeyValuePair<string, Tensor<T>>>();
        foreach (var (k, v) in module.StateDict()) all.Add(new(ModelPrefix + k, v));
        if (optimizer is not null)
            foreach (var (k, v) in optimizer.ExportState()) all.Add(new(OptimizerPrefix + k, v));
        if (extra is not null)
            foreach (var (k, v) in extra) all.Add(new(ExtraPrefix + k, v));
        SafeTensors.Save(path, all, FileChecksum.Stamp(all, metadata));
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint{T}"/>; returns the metadata. A malformed or corrupt
    /// file (checksum), or one whose tensors do not fit <paramref name="module"/> and <paramref name="optimizer"/>, is a
    /// <see cref="ModelFileException"/> naming the file and the problem.
    /// </summary>
    public static IReadOnlyDictionary<string, string> LoadCheckpoint<T>(string path, Module<T> module, Optimizer<T>? optimizer, bool strict = true, bool convert = false)
        where T : unmanaged, IFloatingPointIeee754<T> => LoadCheckpoint(path, module, optimizer, out _, strict, convert);

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint{T}"/>; returns the metadata and, in
    /// <paramref name="extra"/>, the extra tensors stored with it (names without the "extra." prefix).
    /// <paramref name="checkMetadata"/> sees the metadata before anything is loaded (and may throw to refuse the file).
    /// </summary>
    public static IReadOnlyDictionary<string, string> LoadCheckpoint<T>(string path, Module<T> module, Optimizer<T>? optimizer,
        out IReadOnlyDictionary<string, Tensor<T>> extra, bool strict = true, bool convert = false, Action<IReadOnlyDictionary<string, string>>? checkMetadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeTensorsFile file;
        try { file = SafeTensors.Load(path); }
        catch (SafeTensorsFormatException ex) { throw new ModelFileException(path, $"not a valid checkpoint (truncated or corrupt?): {ex.Problem}", ex); }
        if (FileKinds.Of(file.Metadata) == FileKinds.FlowModel)
            throw new ModelFileException(path, "this is a flow model file, not a training checkpoint") { FileKind = FileKinds.FlowModel };
        FileChecksum.Verify(file, path, "checkpoint");
        checkMetadata?.Invoke(file.Metadata);
        OrderedDictionary<string, Tensor<T>> all;
        try { all = Convert<T>(file, path, convert); }
        catch (InvalidDataException ex) { throw new ModelFileException(path, ex.Message, ex); }
        var model = new Dictionary<string, Tensor<T>>();
        var opt = new Dictionary<string, Tensor<T>>();
        var more = new Dictionary<string, Tensor<T>>();
        foreach (var (k, v) in all)
        {
            if (k.StartsWith(ModelPrefix, StringComparison.Ordinal)) model[k[ModelPrefix.Length..]] = v;
            else if (k.StartsWith(OptimizerPrefix, StringComparison.Ordinal)) opt[k[OptimizerPrefix.Length..]] = v;
            else if (k.StartsWith(ExtraPrefix, StringComparison.Ordinal)) more[k[ExtraPrefix.Length..]] = v;
            else if (strict) throw new ModelFileException(path, $"checkpoint tensor '{k}' is neither under '{ModelPrefix}', '{OptimizerPrefix}' nor '{ExtraPrefix}'");
        }
        if (optimizer is not null && opt.Count == 0) throw new ModelFileException(path, "the checkpoint holds no optimizer state");
        try
        {
            module.LoadStateDict(model, strict);
            optimizer?.ImportState(opt);
        }
        catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException or InvalidOperationException)
        { throw new ModelFileException(path, $"the checkpoint does not fit this model: {ex.Message}", ex); }
        extra = more;
        return file.Metadata;
    }

    private static OrderedDictionary<string, Tensor<T>> Convert<T>(SafeTensorsFile file, string path, bool convert) where T : unmanaged, IFloatingPointIeee754<T>
    {
        try { return file.ToDictionary<T>(convert); }
        catch (InvalidCastException ex) { throw new InvalidDataException($"{path}: {ex.Message}", ex); }
    }
}
