using System.Numerics;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Serialization;

/// <summary>
/// Saving and loading modules and optimizers as safetensors files through their state dictionaries, and combined
/// checkpoints (model tensors under "model.", optimizer state under "optimizer.").
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
        SafeTensors.Save(path, module.StateDict(), metadata);
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
        SafeTensors.Save(path, all, metadata);
    }

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint{T}"/>; returns the metadata.</summary>
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
        var file = SafeTensors.Load(path);
        checkMetadata?.Invoke(file.Metadata);
        var all = Convert<T>(file, path, convert);
        var model = new Dictionary<string, Tensor<T>>();
        var opt = new Dictionary<string, Tensor<T>>();
        var more = new Dictionary<string, Tensor<T>>();
        foreach (var (k, v) in all)
        {
            if (k.StartsWith(ModelPrefix, StringComparison.Ordinal)) model[k[ModelPrefix.Length..]] = v;
            else if (k.StartsWith(OptimizerPrefix, StringComparison.Ordinal)) opt[k[OptimizerPrefix.Length..]] = v;
            else if (k.StartsWith(ExtraPrefix, StringComparison.Ordinal)) more[k[ExtraPrefix.Length..]] = v;
            else if (strict) throw new InvalidDataException($"{path}: checkpoint tensor '{k}' is neither under '{ModelPrefix}', '{OptimizerPrefix}' nor '{ExtraPrefix}'");
        }
        module.LoadStateDict(model, strict);
        if (optimizer is not null)
        {
            if (opt.Count == 0) throw new InvalidDataException($"{path}: the checkpoint holds no optimizer state");
            optimizer.ImportState(opt);
        }
        extra = more;
        return file.Metadata;
    }

    private static OrderedDictionary<string, Tensor<T>> Convert<T>(SafeTensorsFile file, string path, bool convert) where T : unmanaged, IFloatingPointIeee754<T>
    {
        try { return file.ToDictionary<T>(convert); }
        catch (InvalidCastException ex) { throw new InvalidDataException($"{path}: {ex.Message}", ex); }
    }
}
