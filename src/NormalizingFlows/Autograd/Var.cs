using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Autograd;

/// <summary>
/// A node of the reverse-mode graph: a value, an optional gradient of the same shape, and (for results of
/// differentiable ops) the inputs and the function that propagates the gradient back to them.
/// Ops record a node only when gradients are enabled (<see cref="GradMode"/>) and an input requires them.
/// </summary>
public class Var<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int InlineInputs = 4;
    // not readonly: a recycled op node (see Reinitialize) is set up again for another op
    private InputArray _inline; // up to InlineInputs inputs live in the node itself (no array per op)
    private Var<T>[]? _inputs;  // more than that
    private int _inputCount;
    private BackwardFunction<T>? _backward;
    private int[]? _gradShape;
    private int _visit;
    private static int s_epoch; // global, so that threads walking graphs that share leaves never mistake each other's marks
    [ThreadStatic] private static ShardGradients<T>? t_shard;
    private Tensor<T>?[]? _shardGrads; // per-shard gradient buffers of a shared leaf (slot 0 unused: shard 0 uses Grad)

    /// <summary>A constant (or, with <paramref name="requiresGrad"/>, a leaf whose gradient is collected).</summary>
    public Var(Tensor<T> value, bool requiresGrad = false)
    {
        Value = value;
        RequiresGrad = requiresGrad;
    }

    /// <summary>The result of an op: differentiable with respect to <paramref name="inputs"/> through <paramref name="backward"/>.</summary>
    public Var(Tensor<T> value, ReadOnlySpan<Var<T>> inputs, BackwardFunction<T> backward) => Reinitialize(value, inputs, backward, null);

    /// <summary>Makes this node the result of an op (a new one, or a recycled one set up again: no trace of its past use is kept).</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(Value))]
    private protected void Reinitialize(Tensor<T> value, ReadOnlySpan<Var<T>> inputs, BackwardFunction<T> backward, int[]? gradShape)
    {
        Value = value;
        Grad = null;
        Name = null;
        RequiresGrad = true;
        _inputCount = inputs.Length;
        if (inputs.Length <= InlineInputs)
        {
            _inputs = null;
            inputs.CopyTo(_inline);
        }
        else _inputs = inputs.ToArray();
        _backward = backward;
        _gradShape = gradShape;
    }

    /// <summary>Makes this node a constant of <paramref name="value"/> (a recycled one set up again: no trace of its past use is kept).</summary>
    private protected void ReinitializeConstant(Tensor<T> value)
    {
        Value = value;
        Grad = null;
        Name = null;
        RequiresGrad = false;
        _inputCount = 0;
        _inputs = null;
        _backward = null;
        _gradShape = null;
    }

    /// <summary>Drops the references of a node about to be recycled (its value, gradient and inputs).</summary>
    private protected void DropReferences()
    {
        Value = null!;
        Grad = null;
        _inputs = null;
        ((Span<Var<T>>)_inline).Clear();
    }

    [System.Runtime.CompilerServices.InlineArray(InlineInputs)]
    private struct InputArray
    {
        private Var<T> _first;
    }

    /// <summary>
    /// A hub node for ops with several results: its value is empty, its gradient has <paramref name="gradShape"/>
    /// (typically the results side by side) and the result nodes, whose only input is the hub, add their gradients
    /// into it; the hub's <paramref name="backward"/> then runs once with all of them (reverse topological order
    /// guarantees every result's backward ran first).
    /// </summary>
    public Var(Tensor<T> value, ReadOnlySpan<Var<T>> inputs, BackwardFunction<T> backward, int[] gradShape)
        => Reinitialize(value, inputs, backward, gradShape);

    /// <summary>The value.</summary>
    public Tensor<T> Value { get; private set; }

    /// <summary>The accumulated gradient of the last <see cref="Backward()"/> call(s), or null.</summary>
    public Tensor<T>? Grad { get; set; }

    /// <summary>True for leaves that collect gradients and for results of ops on such values.</summary>
    public bool RequiresGrad { get; protected set; }

    /// <summary>True if this is not the result of a recorded op.</summary>
    public bool IsLeaf => _backward is null;

    /// <summary>An optional name (parameters carry theirs; errors name it).</summary>
    public string? Name { get; set; }

    /// <summary>Shape of the value.</summary>
    public ReadOnlySpan<int> Shape => Value.Shape;

    /// <summary>Rows of the value's 2-D view.</summary>
    public int Rows => Value.Rows;

    /// <summary>Columns of the value's 2-D view.</summary>
    public int Cols => Value.Cols;

    /// <summary>The inputs this node was computed from (empty for leaves).</summary>
    public ReadOnlySpan<Var<T>> Inputs => _inputs ?? ((ReadOnlySpan<Var<T>>)_inline)[.._inputCount];

    /// <summary>A constant wrapping the same value, cut off from the graph.</summary>
    public Var<T> Detach() => new(Value);

    /// <summary>
    /// The gradient buffer, created as zeros on first use. Gradients of leaves survive tensor scopes (they are
    /// accumulated across steps until zeroed); those of intermediate nodes are released with the scope.
    /// </summary>
    public Tensor<T> GradBuffer() => GradBuffer(out _, zeroNew: true);

    /// <summary>
    /// The gradient buffer, or, when there is none yet, a new one left uninitialised (<paramref name="isNew"/> true): the
    /// caller must then overwrite every entry instead of accumulating, which saves the zero fill.
    /// </summary>
    internal Tensor<T> GradBuffer(out bool isNew) => GradBuffer(out isNew, zeroNew: false);

    private Tensor<T> GradBuffer(out bool isNew, bool zeroNew)
    {
        isNew = false;
        if (t_shard is { } shard && IsLeaf && !IsShardLocal) return shard.BufferFor(this);
        if (Grad is { IsDisposed: false } g) return g;
        g = zeroNew
            ? (_gradShape is null ? Tensor<T>.ZerosLike(Value) : Tensor<T>.Zeros(_gradShape))
            : (_gradShape is null ? Tensor<T>.EmptyLike(Value) : Tensor<T>.Empty(_gradShape));
        if (IsLeaf && !IsShardLocal) g.Untrack();
        Grad = g;
        isNew = !zeroNew;
        return g;
    }

    /// <summary>True for the per-shard copies of a row-sharded op's inputs (their gradients are not redirected).</summary>
    internal bool IsShardLocal { get; init; }

    /// <summary>This leaf's gradient buffer for row block <paramref name="slot"/> (1 ≤ slot &lt; <see cref="RowShards.MaxShards"/>), created as zeros (untracked) on first use.</summary>
    internal Tensor<T> ShardGradBuffer(int slot)
    {
        // One fixed-size slot array per leaf, never regrown: blocks on other threads write their own slots concurrently.
        var slots = _shardGrads ?? Interlocked.CompareExchange(ref _shardGrads, new Tensor<T>?[RowShards.MaxShards], null) ?? _shardGrads!;
        var g = slots[slot];
        if (g is null || g.IsDisposed)
        {
            g = Tensor<T>.ZerosLike(Value).Untrack();
            slots[slot] = g;
        }
        return g;
    }

    /// <summary>Makes gradients of shared leaves go to per-shard buffers on this thread until the returned scope ends.</summary>
    internal static ShardGradientScope RedirectLeafGradients(ShardGradients<T>? shard)
    {
        var previous = t_shard;
        t_shard = shard;
        return new ShardGradientScope(previous);
    }

    /// <summary>Restores the previous redirection.</summary>
    internal readonly struct ShardGradientScope(ShardGradients<T>? previous) : IDisposable
    {
        /// <summary>Ends the redirection.</summary>
        public void Dispose() => t_shard = previous;
    }

    /// <summary>Sets the gradient to zero (keeping the buffer) or drops it.</summary>
    public void ZeroGrad()
    {
        if (Grad is { IsDisposed: false } g) g.Clear();
    }

    /// <summary>Back-propagates from this scalar (a single-element value), seeding its gradient with 1.</summary>
    public void Backward()
    {
        if (Value.Length != 1)
            throw new InvalidOperationException($"Backward() needs a scalar; this value has shape {Value.ShapeString}. Reduce it first (Sum, Mean) or pass a seed gradient.");
        var seed = Tensor<T>.EmptyLike(Value);
        seed.Fill(T.One);
        Backward(seed);
    }

    /// <summary>Back-propagates with the given seed gradient (same shape as the value), accumulating into every leaf's gradient.</summary>
    public void Backward(Tensor<T> seed)
    {
        if (_gradShape is not null) throw new InvalidOperationException("Backward() from a hub node; call it on one of the op's results");
        if (!seed.SameShape(Value))
            throw new ArgumentException($"seed gradient shape {seed.ShapeString} differs from value shape {Value.ShapeString}", nameof(seed));
        if (!RequiresGrad)
            throw new InvalidOperationException("Backward() on a value that does not require gradients: no parameter or input with RequiresGrad took part in computing it (or it was computed under NoGrad).");
        Backward([this], [seed]);
    }

    /// <summary>
    /// One backward pass from several roots at once, root i seeded with <paramref name="seeds"/>[i] (roots that do
    /// not require gradients are skipped).
    /// </summary>
    internal static void Backward(ReadOnlySpan<Var<T>> roots, ReadOnlySpan<Tensor<T>> seeds)
    {
        Var<T> top;
        if (roots.Length == 1) top = roots[0];
        else
        {
            var live = new List<Var<T>>(roots.Length);
            foreach (var r in roots) if (r.RequiresGrad) live.Add(r);
            top = new Var<T>(Tensor<T>.Empty(0), [.. live], static _ => { });
        }
        // Backward passes nest (a row-sharded op's backward runs its blocks' passes, one on this thread): each takes
        // an order list of its own from this thread's spares and gives it back emptied.
        var spares = t_orders ??= new();
        var order = spares.Count > 0 ? spares.Pop() : new List<Var<T>>();
        try
        {
            TopologicalOrder(top, order);
            // Gradients of intermediate nodes belong to one backward pass; only leaves accumulate across passes.
            foreach (var node in order)
                if (!node.IsLeaf && node.Grad is { IsDisposed: false } stale) stale.Clear();
            for (int r = 0; r < roots.Length; r++)
            {
                if (!roots[r].RequiresGrad) continue;
                var gs = roots[r].GradBuffer().Span;
                var ss = seeds[r].ReadOnlySpan;
                for (int i = 0; i < gs.Length; i++) gs[i] += ss[i];
            }
            using (GradMode.Disable())
            {
                for (int i = order.Count - 1; i >= 0; i--)
                {
                    var node = order[i];
                    if (node._backward is not null && node.Grad is { IsDisposed: false })
                        node._backward(node);
                }
            }
        }
        finally
        {
            order.Clear();
            spares.Push(order);
        }
    }

    [ThreadStatic] private static Stack<List<Var<T>>>? t_orders;
    [ThreadStatic] private static Stack<(Var<T> node, int next)>? t_walk;

    /// <summary>Appends the nodes that <paramref name="root"/> depends on (those requiring gradients) to <paramref name="order"/>, inputs before their results.</summary>
    private static void TopologicalOrder(Var<T> root, List<Var<T>> order)
    {
        int epoch = Interlocked.Increment(ref s_epoch);
        var stack = t_walk ??= new();
        stack.Clear();
        root._visit = epoch;
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            var inputs = node.Inputs;
            if (next < inputs.Length)
            {
                stack.Push((node, next + 1));
                var child = inputs[next];
                if (child.RequiresGrad && child._visit != epoch)
                {
                    child._visit = epoch;
                    stack.Push((child, 0));
                }
            }
            else order.Add(node);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => (Name is null ? "Var " : $"Var '{Name}' ") + Value;

    /// <summary>Wraps a tensor as a constant.</summary>
    public static implicit operator Var<T>(Tensor<T> value) => new(value);

    /// <summary>a + b (broadcasting, see <see cref="Ops"/>).</summary>
    public static Var<T> operator +(Var<T> a, Var<T> b) => Ops.Add(a, b);
    /// <summary>a − b (broadcasting).</summary>
    public static Var<T> operator -(Var<T> a, Var<T> b) => Ops.Sub(a, b);
    /// <summary>a·b elementwise (broadcasting).</summary>
    public static Var<T> operator *(Var<T> a, Var<T> b) => Ops.Mul(a, b);
    /// <summary>a / b elementwise (broadcasting).</summary>
    public static Var<T> operator /(Var<T> a, Var<T> b) => Ops.Div(a, b);
    /// <summary>−a.</summary>
    public static Var<T> operator -(Var<T> a) => Ops.Neg(a);
    /// <summary>a·s for a constant s.</summary>
    public static Var<T> operator *(Var<T> a, double s) => Ops.ScaleShift(a, s);
    /// <summary>s·a for a constant s.</summary>
    public static Var<T> operator *(double s, Var<T> a) => Ops.ScaleShift(a, s);
    /// <summary>a + s for a constant s.</summary>
    public static Var<T> operator +(Var<T> a, double s) => Ops.ScaleShift(a, 1.0, s);
    /// <summary>a − s for a constant s.</summary>
    public static Var<T> operator -(Var<T> a, double s) => Ops.ScaleShift(a, 1.0, -s);
}
