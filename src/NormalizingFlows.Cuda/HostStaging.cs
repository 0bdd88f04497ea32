using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace NormalizingFlows.Cuda;

/// <summary>
/// A host staging buffer for host↔device copies, page-locked (pinned) when the accelerator allows it: the host's
/// values are copied into it and DMA'd asynchronously on the device's default stream (the stream orders them with the
/// kernels); the host waits only when it needs the data (a download) or before it writes the buffer again (a fence
/// recorded after the copy that last read it: a CUDA event, a stream synchronization elsewhere). It grows on demand
/// (by doubling, up to <see cref="MaxBytes"/>; longer copies go in chunks) and is freed with its owner. Where
/// page-locking is unavailable (or not asked for) <see cref="Upload{T}"/> and <see cref="Download{T}"/> copy straight
/// from and to the caller's memory, synchronously, as ILGPU's CPU copies do, and <see cref="Begin"/> hands out an
/// ordinary array (<see cref="Pinned"/> says which ran).
/// Not thread-safe (its owner locks).
/// </summary>
internal sealed class HostStaging : IDisposable
{
    /// <summary>The capacity a staging buffer starts with, in bytes.</summary>
    public const int InitialBytes = 4096;

    private readonly Accelerator _accelerator;
    private readonly StreamFence _fence;
    private PageLockedArray1D<byte>? _pinned;
    private byte[]? _pageable;

    /// <param name="accelerator">The device.</param>
    /// <param name="pinned">False: an ordinary managed array (synchronous copies), e.g. to compare both paths.</param>
    /// <param name="maxBytes">The largest buffer; longer copies go in chunks of this size.</param>
    public HostStaging(Accelerator accelerator, bool pinned = true, int maxBytes = 1 << 26)
    {
        _accelerator = accelerator;
        MaxBytes = Math.Max(maxBytes, 4);
        _fence = new StreamFence(accelerator);
        Pinned = pinned && TryPin(InitialBytes);
        if (!Pinned) _pageable = new byte[Math.Min(InitialBytes, MaxBytes)];
    }

    /// <summary>True when the buffer is page-locked (asynchronous DMA), false for the pageable fallback.</summary>
    public bool Pinned { get; }

    /// <summary>The current capacity in bytes.</summary>
    public int Capacity => Pinned ? (int)_pinned!.Length : _pageable!.Length;

    /// <summary>The largest capacity: longer copies go in chunks.</summary>
    public int MaxBytes { get; }

    /// <summary>How many times the buffer was (re)allocated to grow (for the tests).</summary>
    public int Grows { get; private set; }

    private bool TryPin(int bytes)
    {
        try
        {
            _pinned = _accelerator.AllocatePageLocked1D<byte>(bytes, uninitialized: true);
            return true;
        }
        catch (Exception e) when (e is NotSupportedException or NotImplementedException or InvalidOperationException or CudaException)
        {
            return false;
        }
    }

    /// <summary>
    /// The first <paramref name="bytes"/> of the buffer for the host to fill (at most <see cref="MaxBytes"/>): waits
    /// until the copy that last read it has finished, and grows it when it is too small (its contents are then lost).
    /// </summary>
    public Span<byte> Begin(int bytes)
    {
        if (bytes < 0 || bytes > MaxBytes) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"0 to {MaxBytes} bytes");
        _fence.Wait();
        if (bytes > Capacity)
        {
            int size = (int)Math.Min(MaxBytes, Math.Max((long)bytes, 2L * Capacity));
            if (Pinned)
            {
                _pinned!.Dispose();
                _pinned = _accelerator.AllocatePageLocked1D<byte>(size, uninitialized: true);
            }
            else _pageable = new byte[size];
            Grows++;
        }
        return Pinned ? _pinned!.Span[..bytes] : _pageable.AsSpan(0, bytes);
    }

    /// <summary>
    /// Queues the copy of <paramref name="bytes"/> of the buffer from byte <paramref name="from"/> into
    /// <paramref name="target"/> (that many bytes) on the default stream (pageable: a synchronous copy).
    /// </summary>
    public void Send(ArrayView<byte> target, int from, int bytes)
    {
        if (bytes == 0) return;
        if (Pinned) target.SubView(0, bytes).CopyFrom(_accelerator.DefaultStream, _pinned!.ArrayView.SubView(from, bytes));
        else target.SubView(0, bytes).CopyFromCPU(_pageable.AsSpan(from, bytes));
    }

    /// <summary>Marks the end of the copies that read the buffer: the next <see cref="Begin"/> waits for them.</summary>
    public void Commit() => _fence.Record();

    /// <summary>Copies <paramref name="values"/> into <paramref name="target"/> (as long) through the buffer, without waiting for the copy.</summary>
    public void Upload<T>(ArrayView<T> target, ReadOnlySpan<T> values) where T : unmanaged
    {
        var src = MemoryMarshal.AsBytes(values);
        var dst = target.Cast<byte>();
        if (dst.Length != src.Length) throw new ArgumentException($"{src.Length} bytes for a device view of {dst.Length}", nameof(values));
        if (!Pinned)
        {
            if (src.Length > 0) dst.CopyFromCPU(src); // the pageable path: ILGPU's synchronous copy, no staging
            return;
        }
        for (int at = 0; at < src.Length; at += MaxBytes)
        {
            int n = Math.Min(MaxBytes, src.Length - at);
            src.Slice(at, n).CopyTo(Begin(n));
            Send(dst.SubView(at, n), 0, n);
            Commit();
        }
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/> (as long) through the buffer; waits for the device.</summary>
    public void Download<T>(ArrayView<T> source, Span<T> destination) where T : unmanaged
    {
        var dst = MemoryMarshal.AsBytes(destination);
        var src = source.Cast<byte>();
        if (src.Length != dst.Length) throw new ArgumentException($"{dst.Length} bytes for a device view of {src.Length}", nameof(destination));
        if (!Pinned)
        {
            if (dst.Length > 0) src.CopyToCPU(dst);
            return;
        }
        for (int at = 0; at < dst.Length; at += MaxBytes)
        {
            int n = Math.Min(MaxBytes, dst.Length - at);
            var staged = Begin(n);
            src.SubView(at, n).CopyTo(_accelerator.DefaultStream, _pinned!.ArrayView.SubView(0, n));
            _accelerator.DefaultStream.Synchronize();
            staged.CopyTo(dst.Slice(at, n));
        }
    }

    public void Dispose()
    {
        _fence.Wait();
        _fence.Dispose();
        _pinned?.Dispose();
        _pinned = null;
    }
}

/// <summary>
/// A point on the device's default stream the host can wait for: a CUDA event on a GPU (the host waits for the work
/// queued before it, not for later kernels), a stream synchronization on other accelerators.
/// </summary>
internal sealed class StreamFence : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private IntPtr _event;
    private bool _pending;

    public StreamFence(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _stream = accelerator.DefaultStream;
        if (_stream is not CudaStream) return;
        using var bound = accelerator.BindScoped(); // the driver calls need the device's context on this thread
        CudaException.ThrowIfFailed(CudaAPI.CurrentAPI.CreateEvent(out _event, CudaEventFlags.CU_EVENT_DISABLE_TIMING));
    }

    /// <summary>Marks the work queued so far.</summary>
    public void Record()
    {
        if (_stream is CudaStream cuda)
        {
            using var bound = _accelerator.BindScoped();
            CudaException.ThrowIfFailed(CudaAPI.CurrentAPI.RecordEvent(_event, cuda.StreamPtr));
        }
        _pending = true;
    }

    /// <summary>Waits until the work queued before the last <see cref="Record"/> has finished.</summary>
    public void Wait()
    {
        if (!_pending) return;
        if (_stream is CudaStream)
        {
            using var bound = _accelerator.BindScoped();
            CudaException.ThrowIfFailed(CudaAPI.CurrentAPI.SynchronizeEvent(_event));
        }
        else _stream.Synchronize();
        _pending = false;
    }

    public void Dispose()
    {
        if (_event == IntPtr.Zero) return;
        using var bound = _accelerator.BindScoped();
        CudaAPI.CurrentAPI.DestroyEvent(_event);
        _event = IntPtr.Zero;
    }
}
