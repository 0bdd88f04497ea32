using System.Numerics;

namespace NormalizingFlows.Nn;

/// <summary>An ordered list of child modules named "0", "1", ….</summary>
public sealed class ModuleList<T> : Module<T>, IReadOnlyList<Module<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Module<T>> _items = [];

    /// <summary>Appends a module (registered under its index) and returns it.</summary>
    public TModule Add<TModule>(TModule module) where TModule : Module<T>
    {
        RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        _items.Add(module);
        return module;
    }

    /// <summary>The module at <paramref name="index"/>.</summary>
    public Module<T> this[int index] => _items[index];

    /// <summary>Number of modules.</summary>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public IEnumerator<Module<T>> GetEnumerator() => _items.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
