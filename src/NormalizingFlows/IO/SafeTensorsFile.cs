using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.IO;

/// <summary>The contents of a safetensors file: tensors in data order and the string metadata.</summary>
public sealed class SafeTensorsFile
{
    private readonly Dictionary<string, SafeTensorEntry> _byName;

    internal SafeTensorsFile(List<SafeTensorEntry> tensors, Dictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name);
    }

    /// <summary>The tensors in the order of their data.</summary>
    public IReadOnlyList<SafeTensorEntry> Tensors { get; }

    /// <summary>The "__metadata__" map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>True if a tensor of that name exists.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The entry named <paramref name="name"/> (KeyNotFoundException naming it otherwise).</summary>
    public SafeTensorEntry this[string name] => _byName.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"no tensor named '{name}' in the safetensors file");

    /// <summary>The tensor named <paramref name="name"/> as <see cref="Tensor{T}"/> (see <see cref="SafeTensorEntry.As{T}"/>).</summary>
    public Tensor<T> Get<T>(string name, bool convert = false) where T : unmanaged, IFloatingPointIeee754<T> => this[name].As<T>(convert);

    /// <summary>All tensors by name, in data order, as <see cref="Tensor{T}"/>.</summary>
    public OrderedDictionary<string, Tensor<T>> ToDictionary<T>(bool convert = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new OrderedDictionary<string, Tensor<T>>();
        foreach (var e in Tensors) d.Add(e.Name, e.As<T>(convert));
        return d;
    }
}
