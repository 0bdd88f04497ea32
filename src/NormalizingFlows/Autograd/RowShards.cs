using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

/// <summary>
/// Data parallelism over rows: a row-wise computation (a flow's log-density or sampling pass) is split into one
/// contiguous block of rows per worker thread, and each thread builds and back-propagates its own graph. Threads
/// meet twice per training step (after the forward pass and after the backward pass) instead of once per kernel,
/// so both cores stay busy at small batches too. Gradients of shared leaves (parameters) are collected per thread
/// and summed at the end; results do not depend on scheduling.
/// </summary>
public static class RowShards
{
    private static int _minRowsPerShard = 128;

    /// <summary>Most blocks one batch is split into.</summary>
    internal const int MaxShards = 64;

    /// <summary>When false, every computation runs as one block (kernels may still thread internally).</summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>Fewest rows a block may have (default 128); smaller batches run as one block.</summary>
    public static int MinRowsPerShard
    {
        get => _minRowsPerShard;
        set => _minRowsPerShard = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "need at least one row per block");
    }

    /// <summary>Number of blocks a batch of <paramref name="rows"/> rows is split into here and now (1: not split).</summary>
    public static int ShardsFor(int rows)
        => !Enabled || WorkerPool.IsInsidePart ? 1 : Math.Max(1, Math.Min(WorkerPool.MaxThreads, rows / _minRowsPerShard));

    /// <summary>
    /// Applies <paramref name="body"/> to row blocks of <paramref name="inputs"/> (each null or with
    /// <paramref name="rows"/> rows) and returns its outputs (each with one row per input row) concatenated along
    /// rows. <paramref name="body"/> must treat rows independently and must not touch shared mutable state other than
    /// the gradients of leaves; it runs on several threads at once. Differentiable with respect to the inputs and
    /// to every leaf the body uses.
    /// </summary>
    public static Var<T>[] Map<T>(int rows, Var<T>?[] inputs, Func<Var<T>?[], Var<T>[]> body) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return Map(rows, ShardsFor(rows), inputs, body);
    }

    /// <summary><see cref="Map{T}(int, Var{T}?[], Func{Var{T}?[], Var{T}[]})"/> with an explicit number of blocks (run on as many threads as the pool has).</summary>
    internal static Var<T>[] Map<T>(int rows, int shards, Var<T>?[] inputs, Func<Var<T>?[], Var<T>[]> body) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(body);
        CheckRows(rows, inputs);
        if (Math.Min(Math.Min(shards, rows), MaxShards) < 2) return body(inputs);
        return Map(rows, shards, inputs, body, static (body, block, outputs) => outputs.AddRange(body(block))).ToArray();
    }

    /// <summary>
    /// The core of <see cref="Map{T}(int, Var{T}?[], Func{Var{T}?[], Var{T}[]})"/> for the library's own row-wise
    /// computations (at least two blocks): <paramref name="body"/>(state, block inputs, outputs) adds the block's
    /// outputs to the list. Nothing is allocated per call inside a recycling scope
    /// (<see cref="TensorScope.BeginRecycling"/>); the results stay valid until the scope ends.
    /// </summary>
    internal static ReadOnlySpan<Var<T>> Map<T, TState>(int rows, int shards, ReadOnlySpan<Var<T>?> inputs, TState state,
        Action<TState, Var<T>?[], List<Var<T>>> body) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckRows(rows, inputs);
        shards = Math.Min(Math.Min(shards, rows), MaxShards);
        if (shards < 2) throw new ArgumentOutOfRangeException(nameof(shards), shards, "a row-sharded computation needs at least two blocks");
        return Run<T, TState>.Rent().Execute(rows, shards, inputs, state, body);
    }

    private static void CheckRows<T>(int rows, ReadOnlySpan<Var<T>?> inputs) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var input in inputs)
            if (input is not null && (input.Value.Rank == 0 || input.Value.Dim(0) != rows))
                throw new ArgumentException($"every input must have {rows} rows; got {input.Value.ShapeString}", nameof(inputs));
    }

    /// <summary>
    /// One row-sharded computation: its blocks' inputs, scopes and outputs, and the backward pass that splits the
    /// results' gradients over the blocks. Inside a recycling scope the object and its arrays serve later calls.
    /// </summary>
    private sealed class Run<T, TState> : RecycledObject<Run<T, TState>> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private int _rows, _shards;
        private Var<T>?[] _inputs = [];
        private TState _state = default!;
        private Action<TState, Var<T>?[], List<Var<T>>> _body = null!;
        private bool _grad, _keep, _recycles;
        // per block (grown to the most blocks a call had)
        private TensorScope?[] _scopes = [];
        private Var<T>?[]?[] _shardInputs = [];
        private List<Var<T>>?[] _shardOutputs = [];
        private Tensor<T>[]?[] _seeds = [];
        private ShardGradients<T>?[]? _collectors;
        private Tensor<T>?[] _inputGrads = [];
        private int[] _colOffset = [];
        private Var<T>[] _results = [];
        private readonly List<Var<T>> _edges = [];
        private Tensor<T>? _hubGrad;

        private int Start(int p) => (int)((long)_rows * p / _shards);

        private int Count(int p) => Start(p + 1) - Start(p);

        public ReadOnlySpan<Var<T>> Execute(int rows, int shards, ReadOnlySpan<Var<T>?> inputs, TState state, Action<TState, Var<T>?[], List<Var<T>>> body)
        {
            (_rows, _shards, _state, _body) = (rows, shards, state, body);
            if (_scopes.Length < shards)
                (_scopes, _shardInputs, _shardOutputs, _seeds) = (new TensorScope?[shards], new Var<T>?[shards][], new List<Var<T>>?[shards], new Tensor<T>[shards][]);
            if (_inputs.Length != inputs.Length) _inputs = new Var<T>?[inputs.Length];
            inputs.CopyTo(_inputs);
            _grad = GradMode.IsEnabled;
            _keep = TensorScope.Current is not null;
            _recycles = TensorScope.Current?.Recycles ?? false;
            try
            {
                ParallelRows.ForParts(_shards, this, static (run, p) => run.Forward(p));
            }
            catch
            {
                for (int p = 0; p < _shards; p++) _scopes[p]?.Dispose();
                throw;
            }
            if (_keep) for (int p = 0; p < _shards; p++) _scopes[p]!.ReleaseWithCurrent();
            return Concatenate();
        }

        private void Forward(int p)
        {
            TensorScope? scope = _keep ? TensorScope.CreateDetached(_recycles) : null;
            _scopes[p] = scope;
            var previous = scope?.Enter();
            var noGrad = _grad ? default(GradMode.NoGradScope?) : GradMode.Disable();
            try
            {
                int start = Start(p), count = Count(p);
                var local = _shardInputs[p] is { } l && l.Length == _inputs.Length ? l : _shardInputs[p] = new Var<T>?[_inputs.Length];
                for (int i = 0; i < local.Length; i++)
                {
                    local[i] = null;
                    if (_inputs[i] is not { } input) continue;
                    var part = input.Value.CopyRows(start, count);
                    local[i] = _grad && input.RequiresGrad ? new Var<T>(part, requiresGrad: true) { IsShardLocal = true } : ConstantNode<T>.Create(part);
                }
                var outputs = _shardOutputs[p] ??= [];
                outputs.Clear();
                _body(_state, local, outputs);
                foreach (var o in outputs)
                    if (o.Value.Rank == 0 || o.Value.Dim(0) != count)
                        throw new InvalidOperationException($"a row-sharded computation returned {o.Value.ShapeString} for a block of {count} rows");
            }
            finally
            {
                noGrad?.Dispose();
                if (scope is not null) TensorScope.Exit(previous);
            }
        }

        private ReadOnlySpan<Var<T>> Concatenate()
        {
            int outs = _shardOutputs[0]!.Count;
            for (int p = 1; p < _shards; p++)
                if (_shardOutputs[p]!.Count != outs) throw new InvalidOperationException("row blocks returned different numbers of outputs");
            if (_results.Length != outs) (_results, _colOffset) = (new Var<T>[outs], new int[outs + 1]);
            bool anyGrad = false;
            for (int k = 0; k < outs; k++)
            {
                var first = _shardOutputs[0]![k].Value;
                var v = first.Rank == 1 ? Tensor<T>.Empty(_rows) : first.Rank == 2 ? Tensor<T>.Empty(_rows, first.Dim(1)) : Tensor<T>.Empty(WithRows(first));
                int c = Math.Max(1, first.Length / Math.Max(1, first.Dim(0)));
                bool grad = false;
                for (int p = 0; p < _shards; p++)
                {
                    var part = _shardOutputs[p]![k];
                    if (part.Value.Length != Count(p) * c || part.Value.Rank != first.Rank)
                        throw new InvalidOperationException($"row blocks returned outputs of different shapes ({first.ShapeString}, {part.Value.ShapeString})");
                    part.Value.ReadOnlySpan.CopyTo(v.Span.Slice(Start(p) * c));
                    grad |= _grad && part.RequiresGrad;
                }
                _results[k] = ConstantNode<T>.Create(v); // a result that needs a gradient becomes a node below
                _colOffset[k + 1] = _colOffset[k] + (grad ? c : 0);
                anyGrad |= grad;
            }
            if (!anyGrad) return _results;
            _edges.Clear();
            foreach (var input in _inputs) if (input is { RequiresGrad: true }) _edges.Add(input);
            int stride = _colOffset[outs];
            var hub = StateNode<T, Run<T, TState>>.Create(Tensor<T>.Empty(0), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_edges), this,
                static (run, hub) => run.Backward(hub), ShapeCache.Get(_rows, stride));
            for (int k = 0; k < outs; k++)
            {
                int offset = _colOffset[k], c = _colOffset[k + 1] - offset;
                if (c == 0) continue;
                _results[k] = StateNode<T, (int Offset, int Cols, int Stride)>.Create(_results[k].Value, [hub], (offset, c, stride),
                    static (s, o) => AddColumns(o.Grad!.ReadOnlySpan, o.Inputs[0].GradBuffer().Span, s.Offset, s.Cols, s.Stride));
            }
            return _results;
        }

        private int[] WithRows(Tensor<T> first)
        {
            var shape = first.Shape.ToArray();
            shape[0] = _rows;
            return shape;
        }

        private static void AddColumns(ReadOnlySpan<T> src, Span<T> dst, int offset, int cols, int stride)
        {
            int rows = src.Length / cols;
            for (int r = 0; r < rows; r++)
            {
                var s = src.Slice(r * cols, cols);
                var d = dst.Slice(r * stride + offset, cols);
                for (int j = 0; j < cols; j++) d[j] += s[j];
            }
        }

        private void Backward(Var<T> hub)
        {
            _hubGrad = hub.Grad!;
            if (_inputGrads.Length != _inputs.Length) _inputGrads = new Tensor<T>?[_inputs.Length];
            for (int i = 0; i < _inputs.Length; i++)
                _inputGrads[i] = _inputs[i] is { RequiresGrad: true } input ? input.GradBuffer() : null;
            _collectors = Collectors(_shards);
            try
            {
                ParallelRows.ForParts(_shards, this, static (run, p) => run.BackwardPart(p));
                // Shard 0 accumulated into the leaves' own gradients; add the others' (parts split over the leaves).
                ParallelRows.ForParts(_shards, this, static (run, part) =>
                {
                    for (int p = 1; p < run._shards; p++) run._collectors![p]!.MergeInto(part, run._shards);
                });
            }
            catch
            {
                for (int p = 1; p < _shards; p++) _collectors[p]!.Reset(clear: true);
                throw;
            }
            for (int p = 1; p < _shards; p++) _collectors[p]!.Reset(clear: false);
        }

        // One collector per block slot, kept by the thread that runs the backward pass: a run's collectors are reset
        // (emptied) when its backward pass ends, and one thread's passes do not overlap, so the next run reuses them.
        [ThreadStatic] private static ShardGradients<T>?[]? t_collectors;

        private static ShardGradients<T>?[] Collectors(int shards)
        {
            var all = t_collectors ??= new ShardGradients<T>?[MaxShards];
            for (int p = 1; p < shards; p++) all[p] ??= new ShardGradients<T>(p);
            return all;
        }

        private void BackwardPart(int p)
        {
            var previous = _scopes[p]?.Enter();
            try
            {
                int start = Start(p), count = Count(p);
                var outputs = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_shardOutputs[p]);
                var seeds = _seeds[p] is { } s0 && s0.Length == outputs.Length ? s0 : _seeds[p] = new Tensor<T>[outputs.Length];
                int stride = _colOffset[^1];
                var hg = _hubGrad!.ReadOnlySpan;
                for (int k = 0; k < outputs.Length; k++)
                {
                    int offset = _colOffset[k], c = _colOffset[k + 1] - offset;
                    if (c == 0) { seeds[k] = outputs[k].Value; continue; } // needs no gradient: skipped by the pass
                    var seed = Tensor<T>.EmptyLike(outputs[k].Value);
                    var s = seed.Span;
                    for (int r = 0; r < count; r++) hg.Slice((start + r) * stride + offset, c).CopyTo(s.Slice(r * c, c));
                    seeds[k] = seed;
                }
                using (Var<T>.RedirectLeafGradients(_collectors![p]))
                    Var<T>.Backward(outputs, seeds);
                var local = _shardInputs[p]!;
                for (int i = 0; i < local.Length; i++)
                {
                    if (_inputGrads[i] is not { } whole || local[i]?.Grad is not { } g) continue;
                    int c = g.Length / Math.Max(1, count);
                    var dst = whole.Span.Slice(start * c, count * c);
                    var src = g.ReadOnlySpan;
                    for (int j = 0; j < dst.Length; j++) dst[j] += src[j];
                    g.Clear();
                }
            }
            finally
            {
                if (_scopes[p] is not null) TensorScope.Exit(previous);
            }
        }

        /// <inheritdoc/>
        protected override void Reset()
        {
            Array.Clear(_inputs);
            (_state, _body, _hubGrad, _collectors) = (default!, null!, null, null);
            for (int p = 0; p < _shards; p++)
            {
                _scopes[p] = null;
                if (_shardInputs[p] is { } l) Array.Clear(l);
                _shardOutputs[p]?.Clear();
                if (_seeds[p] is { } s) Array.Clear(s);
            }
            Array.Clear(_inputGrads);
            Array.Clear(_results);
            _edges.Clear();
        }
    }
}

/// <summary>Gradients of shared leaves collected by one row block (slot ≥ 1) during a sharded backward pass.</summary>
internal sealed class ShardGradients<T>(int slot) where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Var<T>> _touched = [];
    private readonly HashSet<Var<T>> _seen = new(ReferenceEqualityComparer.Instance);

    /// <summary>The block's buffer for <paramref name="leaf"/>, remembering that it was used.</summary>
    public Tensor<T> BufferFor(Var<T> leaf)
    {
        var g = leaf.ShardGradBuffer(slot);
        if (_seen.Add(leaf)) _touched.Add(leaf);
        return g;
    }

    /// <summary>Adds every <paramref name="parts"/>-th collected gradient, from <paramref name="part"/> on, into its leaf's own and zeroes it.</summary>
    public void MergeInto(int part, int parts)
    {
        for (int i = part; i < _touched.Count; i += parts)
        {
            var leaf = _touched[i];
            var src = leaf.ShardGradBuffer(slot);
            var dst = leaf.GradBuffer().Span;
            var s = src.Span;
            System.Numerics.Tensors.TensorPrimitives.Add(dst, s, dst);
            s.Clear();
        }
    }

    /// <summary>Forgets the leaves of this pass; with <paramref name="clear"/>, zeroes their buffers (after an error).</summary>
    public void Reset(bool clear)
    {
        if (clear) foreach (var leaf in _touched) leaf.ShardGradBuffer(slot).Clear();
        _touched.Clear();
        _seen.Clear();
    }
}
