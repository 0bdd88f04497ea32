using System.Runtime.InteropServices;
using ILGPU;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Cuda;

/// <summary>
/// Training data kept on the host (a set larger than <see cref="ComputeDevice.ResidentDataLimit"/>): each step's rows
/// of the events, their context and loss weights are gathered on the host (threads over row blocks of at least
/// <see cref="BlockFloats"/> for large batches) into one of two page-locked buffers, side by side, and copied
/// asynchronously into the step's device batch buffers.
/// The two buffers alternate, so the gather and copy of step k + 1 overlap step k's kernels; before a buffer is written
/// again the host waits for the copy that last read it (step k − 1's, queued before step k's kernels), never for the
/// kernels. The host tensors are read at every step: they must not change while training.
/// </summary>
internal sealed class StreamedBatches : IDisposable
{
    /// <summary>The least floats one thread of the gather copies (1 MiB): smaller batches run on the calling thread.</summary>
    internal const int BlockFloats = 1 << 18;

    /// <summary>
    /// Threads for the gather: the processor count from 4 processors on, else 1 (on a loaded 2-core machine two
    /// threads took 6–16 ms for 65 536 × 18 floats, one thread 1–4 ms: the second waited to be scheduled).
    /// </summary>
    private static readonly int Threads = Environment.ProcessorCount >= 4 ? Environment.ProcessorCount : 1;

    private readonly Tensor<float> _x;
    private readonly Tensor<float>? _context, _weights;
    private readonly HostStaging[] _slots;
    private int _next;

    public StreamedBatches(ComputeDevice device, Tensor<float> x, Tensor<float>? context, Tensor<float>? weights)
    {
        (_x, _context, _weights) = (x, context, weights);
        _slots = [new HostStaging(device.Accelerator, device.PinnedTransfers, int.MaxValue), new HostStaging(device.Accelerator, device.PinnedTransfers, int.MaxValue)];
    }

    /// <summary>Whether the data has per-event loss weights.</summary>
    public bool HasWeights => _weights is not null;

    /// <summary>The number of training rows.</summary>
    public int Rows => _x.Dim(0);

    /// <summary>
    /// Queues the upload of <paramref name="rows"/> (in that order) of the events, context and weights into
    /// <paramref name="x"/>, <paramref name="context"/> and <paramref name="weights"/> (each [rows.Length, ·]; null where
    /// the data has none).
    /// </summary>
    public void Upload(ReadOnlySpan<int> rows, DeviceTensor x, DeviceTensor? context, DeviceTensor? weights)
    {
        int n = rows.Length, d = _x.Dim(1), c = _context?.Dim(1) ?? 0, w = _weights is null ? 0 : 1;
        foreach (int r in rows)
            if ((uint)r >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(rows), r, $"a training row of 0 … {Rows - 1}");
        long floats = (long)n * (d + c + w);
        if (floats > int.MaxValue / sizeof(float)) throw new NotSupportedException($"a streamed batch of {n} rows × {d + c + w} floats is over 2 GB");
        var slot = _slots[_next];
        _next ^= 1;
        var staged = MemoryMarshal.Cast<byte, float>(slot.Begin((int)floats * sizeof(float)));
        Gather(rows, _x, staged[..(n * d)], Threads);
        if (_context is not null) Gather(rows, _context, staged.Slice(n * d, n * c), Threads);
        if (_weights is not null) Gather(rows, _weights, staged.Slice(n * (d + c), n), Threads);
        slot.Send(x.View.Cast<byte>(), 0, n * d * sizeof(float));
        if (context is not null) slot.Send(context.View.Cast<byte>(), n * d * sizeof(float), n * c * sizeof(float));
        if (weights is not null) slot.Send(weights.View.Cast<byte>(), n * (d + c) * sizeof(float), n * sizeof(float));
        slot.Commit();
    }

    /// <summary>
    /// Rows <paramref name="rows"/> of <paramref name="source"/> [M, k] into <paramref name="target"/> [rows.Length, k],
    /// on up to <paramref name="threads"/> threads (row blocks of at least <see cref="BlockFloats"/>).
    /// </summary>
    internal static unsafe void Gather(ReadOnlySpan<int> rows, Tensor<float> source, Span<float> target, int threads)
    {
        int k = source.Length == 0 ? 0 : (int)(source.Length / source.Dim(0));
        int blocks = Math.Min(threads, target.Length / BlockFloats);
        if (blocks < 2)
        {
            var src = source.ReadOnlySpan;
            for (int i = 0; i < rows.Length; i++) src.Slice(rows[i] * k, k).CopyTo(target.Slice(i * k, k));
            return;
        }
        // row blocks on the thread pool: the spans travel as pointers (both are fixed for the call)
        int n = rows.Length;
        fixed (int* r = rows)
        fixed (float* dst = target)
        {
            nint at = (nint)r, to = (nint)dst;
            Parallel.For(0, blocks, b =>
            {
                var src = source.ReadOnlySpan;
                var index = new ReadOnlySpan<int>((int*)at, n);
                var all = new Span<float>((float*)to, n * k);
                int from = (int)((long)n * b / blocks), end = (int)((long)n * (b + 1) / blocks);
                for (int i = from; i < end; i++) src.Slice(index[i] * k, k).CopyTo(all.Slice(i * k, k));
            });
        }
    }

    public void Dispose()
    {
        foreach (var s in _slots) s.Dispose();
    }
}
