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
        foreach (var input in inputs)
            if (input is not null && (input.Value.Rank == 0 || input.Value.Dim(0) != rows))
                throw new ArgumentException($"every input must have {rows} rows; got {input.Value.ShapeString}", nameof(inputs));
        shards = Math.Min(Math.Min(shards, rows), MaxShards);
        if (shards < 2) return body(inputs);
        return new Run<T>(rows, shards, inputs, body).Execute();
    }

    private sealed class Run<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly int _rows, _shards;
        private readonly Var<T>?[] _inputs;
        private readonly Func<Var<T>?[], Var<T>[]> _body;
        private readonly bool _grad;
        private readonly TensorScope?[] _scopes;
        private readonly Var<T>?[][] _shardInputs;
        private readonly Var<T>[][] _shardOutputs;
        private ShardGradients<T>?[]? _collectors;
        private Tensor<T>?[]? _inputGrads;
        private int[] _colOffset = [];
        private Tensor<T>? _hubGrad;
        private bool _recycles;

        public Run(int rows, int shards, Var<T>?[] inputs, Func<Var<T>?[], Var<T>[]> body)
        {
            (_rows, _shards, _inputs, _body) = (rows, shards, inputs, body);
            _grad = GradMode.IsEnabled;
            _scopes = new TensorScope?[shards];
            _shardInputs = new Var<T>?[shards][];
            _shardOutputs = new Var<T>[shards][];
        }

        private int Start(int p) => (int)((long)_rows * p / _shards);

        private int Count(int p) => Start(p + 1) - Start(p);

        public Var<T>[] Execute()
        {
            bool keep = TensorScope.Current is not null;
            _recycles = TensorScope.Current?.Recycles ?? false;
            try
            {
                ParallelRows.ForParts(_shards, p => Forward(p, keep));
            }
            catch
            {
                foreach (var s in _scopes) s?.Dispose();
                throw;
            }
            if (keep) foreach (var s in _scopes) s!.ReleaseWithCurrent();
            return Concatenate();
        }

        private void Forward(int p, bool keep)
        {
            TensorScope? scope = keep ? TensorScope.CreateDetached(_recycles) : null;
            _scopes[p] = scope;
            var previous = scope?.Enter();
            var noGrad = _grad ? default(GradMode.NoGradScope?) : GradMode.Disable();
            try
            {
                int start = Start(p), count = Count(p);
                var local = new Var<T>?[_inputs.Length];
                for (int i = 0; i < local.Length; i++)
                {
                    if (_inputs[i] is not { } input) continue;
                    var part = input.Value.CopyRows(start, count);
                    local[i] = _grad && input.RequiresGrad ? new Var<T>(part, requiresGrad: true) { IsShardLocal = true } : new Var<T>(part);
                }
                _shardInputs[p] = local;
                var outputs = _body(local);
                foreach (var o in outputs)
                    if (o.Value.Rank == 0 || o.Value.Dim(0) != count)
                        throw new InvalidOperationException($"a row-sharded computation returned {o.Value.ShapeString} for a block of {count} rows");
                _shardOutputs[p] = outputs;
            }
            finally
            {
                noGrad?.Dispose();
                if (scope is not null) TensorScope.Exit(previous);
            }
        }

        private Var<T>[] Concatenate()
        {
            int outs = _shardOutputs[0].Length;
            foreach (var o in _shardOutputs)
                if (o.Length != outs) throw new InvalidOperationException("row blocks returned different numbers of outputs");
            var values = new Tensor<T>[outs];
            var cols = new int[outs];
            var needsGrad = new bool[outs];
            _colOffset = new int[outs + 1];
            for (int k = 0; k < outs; k++)
            {
                var first = _shardOutputs[0][k].Value;
                var shape = first.Shape.ToArray();
                shape[0] = _rows;
                var v = Tensor<T>.Empty(shape);
                int c = Math.Max(1, first.Length / Math.Max(1, first.Dim(0)));
                for (int p = 0; p < _shards; p++)
                {
                    var part = _shardOutputs[p][k];
                    if (part.Value.Length != Count(p) * c || part.Value.Rank != shape.Length)
                        throw new InvalidOperationException($"row blocks returned outputs of different shapes ({first.ShapeString}, {part.Value.ShapeString})");
                    part.Value.ReadOnlySpan.CopyTo(v.Span.Slice(Start(p) * c));
                    needsGrad[k] |= _grad && part.RequiresGrad;
                }
                values[k] = v;
                cols[k] = c;
                _colOffset[k + 1] = _colOffset[k] + c;
            }
            var result = new Var<T>[outs];
            if (!needsGrad.Contains(true))
            {
                for (int k = 0; k < outs; k++) result[k] = new Var<T>(values[k]);
                return result;
            }
            var edges = new List<Var<T>>();
            foreach (var input in _inputs) if (input is { RequiresGrad: true }) edges.Add(input);
            var hub = new Var<T>(Tensor<T>.Empty(0), [.. edges], Backward, [_rows, _colOffset[outs]]);
            for (int k = 0; k < outs; k++)
            {
                if (!needsGrad[k]) { result[k] = new Var<T>(values[k]); continue; }
                int offset = _colOffset[k], c = cols[k];
                result[k] = new Var<T>(values[k], [hub], o => AddColumns(o.Grad!.ReadOnlySpan, hub.GradBuffer().Span, offset, c, _colOffset[^1]));
            }
            return result;
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
            _inputGrads = new Tensor<T>?[_inputs.Length];
            for (int i = 0; i < _inputs.Length; i++)
                if (_inputs[i] is { RequiresGrad: true } input) _inputGrads[i] = input.GradBuffer();
            _collectors = Collectors(_shards);
            try
            {
                ParallelRows.ForParts(_shards, BackwardPart);
                // Shard 0 accumulated into the leaves' own gradients; add the others' (parts split over the leaves).
                ParallelRows.ForParts(_shards, MergePart);
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
                var outputs = _shardOutputs[p];
                var seeds = new Tensor<T>[outputs.Length];
                int stride = _colOffset[^1];
                var hg = _hubGrad!.ReadOnlySpan;
                for (int k = 0; k < outputs.Length; k++)
                {
                    if (!outputs[k].RequiresGrad) { seeds[k] = outputs[k].Value; continue; }
                    int offset = _colOffset[k], c = _colOffset[k + 1] - offset;
                    var seed = Tensor<T>.EmptyLike(outputs[k].Value);
                    var s = seed.Span;
                    for (int r = 0; r < count; r++) hg.Slice((start + r) * stride + offset, c).CopyTo(s.Slice(r * c, c));
                    seeds[k] = seed;
                }
                using (Var<T>.RedirectLeafGradients(_collectors![p]))
                    Var<T>.Backward(outputs, seeds);
                var local = _shardInputs[p];
                for (int i = 0; i < local.Length; i++)
                {
                    if (_inputGrads![i] is not { } whole || local[i]?.Grad is not { } g) continue;
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

        private void MergePart(int part)
        {
            for (int p = 1; p < _shards; p++) _collectors![p]!.MergeInto(part, _shards);
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
