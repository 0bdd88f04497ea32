using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>
/// Base class of network modules. State is registered explicitly: trainable <see cref="Parameter{T}"/>s, persistent
/// non-trainable buffers (running statistics, masks, orders) and child modules. Everything needed to restore a
/// module is a parameter or a buffer, so <see cref="StateDict"/> / <see cref="LoadStateDict"/> round-trip it.
/// Names are dotted paths in registration order ("layers.0.weight").
/// </summary>
public abstract class Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<KeyValuePair<string, Parameter<T>>> _parameters = [];
    private readonly List<KeyValuePair<string, Tensor<T>>> _buffers = [];
    private readonly List<KeyValuePair<string, Module<T>>> _modules = [];
    private readonly HashSet<string> _names = [];

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Registers a trainable parameter under <paramref name="name"/> (no dots) and returns it.</summary>
    protected Parameter<T> RegisterParameter(string name, Parameter<T> parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        CheckName(name);
        parameter.Name ??= name;
        _parameters.Add(new(name, parameter));
        return parameter;
    }

    /// <summary>
    /// Registers a persistent, non-trainable tensor (untracking it from any scope) and returns it. Update buffers in
    /// place: <see cref="LoadStateDict"/> copies into the registered tensor.
    /// </summary>
    protected Tensor<T> RegisterBuffer(string name, Tensor<T> buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        CheckName(name);
        _buffers.Add(new(name, buffer.Untrack()));
        return buffer;
    }

    /// <summary>Registers a child module and returns it.</summary>
    protected TModule RegisterModule<TModule>(string name, TModule module) where TModule : Module<T>
    {
        ArgumentNullException.ThrowIfNull(module);
        CheckName(name);
        if (ReferenceEquals(module, this)) throw new ArgumentException("a module cannot contain itself", nameof(module));
        _modules.Add(new(name, module));
        module.SetTraining(Training);
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("names must be non-empty", nameof(name));
        if (name.Contains('.')) throw new ArgumentException($"name '{name}' must not contain '.' (dots separate levels)", nameof(name));
        if (!_names.Add(name)) throw new ArgumentException($"name '{name}' is already registered in {TypeNames.Of(this)}", nameof(name));
    }

    /// <summary>Every parameter of this module and its descendants with its dotted name, in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Parameter<T>>> NamedParameters()
    {
        foreach (var (prefix, m) in NamedModules())
            foreach (var p in m._parameters) yield return new(Join(prefix, p.Key), p.Value);
    }

    /// <summary>Every parameter of this module and its descendants, in registration order.</summary>
    public IEnumerable<Parameter<T>> Parameters() => NamedParameters().Select(p => p.Value);

    /// <summary>Every buffer of this module and its descendants with its dotted name, in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Tensor<T>>> NamedBuffers()
    {
        foreach (var (prefix, m) in NamedModules())
            foreach (var b in m._buffers) yield return new(Join(prefix, b.Key), b.Value);
    }

    /// <summary>This module (name "") followed by every descendant with its dotted name, depth first, in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Module<T>>> NamedModules()
    {
        yield return new("", this);
        foreach (var (name, child) in _modules)
            foreach (var (sub, m) in child.NamedModules()) yield return new(Join(name, sub), m);
    }

    /// <summary>The direct children with their names.</summary>
    public IEnumerable<KeyValuePair<string, Module<T>>> NamedChildren() => _modules;

    /// <summary>Total number of parameter elements (trainable or frozen).</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Value.Length);

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : name.Length == 0 ? prefix : prefix + "." + name;

    /// <summary>Sets training mode (true) or evaluation mode (false) on this module and all descendants; returns this.</summary>
    public Module<T> Train(bool mode = true)
    {
        SetTraining(mode);
        return this;
    }

    /// <summary>Switches this module and all descendants to evaluation mode; returns this.</summary>
    public Module<T> Eval() => Train(false);

    private void SetTraining(bool mode)
    {
        Training = mode;
        foreach (var (_, child) in _modules) child.SetTraining(mode);
    }

    /// <summary>
    /// True if, in the current mode, this module and all its descendants compute each row from that row alone and
    /// change no shared state while doing so, so that a batch may be split across threads (see
    /// <see cref="Autograd.RowShards"/>). False for batch statistics in training, data-dependent initialisation
    /// still to run, and random dropout.
    /// </summary>
    public bool IsRowWise()
    {
        if (!TreatsRowsIndependently) return false;
        foreach (var (_, child) in _modules)
            if (!child.IsRowWise()) return false;
        return true;
    }

    /// <summary>Whether this module alone (not its children) treats rows independently in the current mode (default true).</summary>
    protected virtual bool TreatsRowsIndependently => true;

    /// <summary>Zeroes the gradients of every parameter (keeping their buffers).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>
    /// Parameters and buffers by dotted name, parameters first within each module, in registration order. The
    /// tensors are the live ones (not copies): serialise them, do not dispose them.
    /// </summary>
    public OrderedDictionary<string, Tensor<T>> StateDict()
    {
        var d = new OrderedDictionary<string, Tensor<T>>();
        foreach (var (prefix, m) in NamedModules())
        {
            foreach (var (n, p) in m._parameters) d.Add(Join(prefix, n), p.Value);
            foreach (var (n, b) in m._buffers) d.Add(Join(prefix, n), b);
        }
        return d;
    }

    /// <summary>
    /// Copies the tensors of <paramref name="state"/> into this module's parameters and buffers. Everything is checked
    /// before anything is copied: with <paramref name="strict"/> every name must be present and no unexpected name may
    /// appear; shapes must always match. The exception names the first mismatch.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor<T>> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        var own = StateDict();
        foreach (var (name, target) in own)
        {
            if (!state.TryGetValue(name, out var src))
            {
                if (strict) throw new KeyNotFoundException($"LoadStateDict: missing key '{name}' (expected shape {target.ShapeString}) for {TypeNames.Of(this)}");
                continue;
            }
            if (!src.SameShape(target))
                throw new ArgumentException($"LoadStateDict: shape mismatch for '{name}': the state has {src.ShapeString}, the module expects {target.ShapeString}");
        }
        if (strict)
            foreach (var name in state.Keys)
                if (!own.ContainsKey(name))
                    throw new ArgumentException($"LoadStateDict: unexpected key '{name}' (not a parameter or buffer of {TypeNames.Of(this)})");
        foreach (var (name, target) in own)
            if (state.TryGetValue(name, out var src) && !ReferenceEquals(src, target)) src.ReadOnlySpan.CopyTo(target.Span);
        OnStateLoaded();
    }

    /// <summary>Called after <see cref="LoadStateDict"/> copied new values (refresh anything derived from buffers).</summary>
    protected virtual void OnStateLoaded()
    {
        foreach (var (_, child) in _modules) child.OnStateLoaded();
    }
}
