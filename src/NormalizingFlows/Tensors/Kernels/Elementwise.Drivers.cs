using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormalizingFlows.Tensors.Kernels;

/// <summary>A vector map of one input.</summary>
internal interface IVec1<T> where T : unmanaged { Vector256<T> Invoke(Vector256<T> a); }
/// <summary>A vector map of two inputs.</summary>
internal interface IVec2<T> where T : unmanaged { Vector256<T> Invoke(Vector256<T> a, Vector256<T> b); }
/// <summary>A vector map of three inputs.</summary>
internal interface IVec3<T> where T : unmanaged { Vector256<T> Invoke(Vector256<T> a, Vector256<T> b, Vector256<T> c); }
/// <summary>A vector map of four inputs.</summary>
internal interface IVec4<T> where T : unmanaged { Vector256<T> Invoke(Vector256<T> a, Vector256<T> b, Vector256<T> c, Vector256<T> d); }

/// <summary>A kernel over an index range of up to four input pointers and one output pointer.</summary>
internal unsafe interface IRangeKernel<T> where T : unmanaged
{
    /// <summary>Processes elements [0, n) of the given (already offset) pointers.</summary>
    void Run(T* a, T* b, T* c, T* d, T* y, nint n);
}

/// <summary>
/// Loop drivers for the elementwise kernels: Vector256 main loop unrolled by two, the tail through a stack buffer
/// (so tails get bit-identical results and accumulate semantics stay exact), and a deterministic split over
/// <see cref="WorkerPool"/> for long spans. Exact aliasing of an input with the output is allowed: every vector is
/// loaded before the same positions are stored.
/// </summary>
internal static unsafe class ElementwiseDriver
{
    /// <summary>Span length from which memory-bound maps are split over threads.</summary>
    public const int CheapThreshold = 65536;
    /// <summary>Span length from which transcendental maps are split over threads.</summary>
    public const int CostlyThreshold = 16384;

    private struct State<T, TK> where T : unmanaged where TK : unmanaged, IRangeKernel<T>
    {
        public TK K;
        public T* A, B, C, D, Y;
        public nint N, Chunk;
    }

    private static void Body<T, TK>(void* s, int p) where T : unmanaged where TK : unmanaged, IRangeKernel<T>
    {
        var st = (State<T, TK>*)s;
        nint start = p * st->Chunk;
        if (start >= st->N) return;
        nint len = Math.Min(st->Chunk, st->N - start);
        st->K.Run(Off(st->A, start), Off(st->B, start), Off(st->C, start), Off(st->D, start), st->Y + start, len);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* Off<T>(T* p, nint o) where T : unmanaged => p == null ? null : p + o;

    /// <summary>Runs <paramref name="k"/> over [0, n), split over the worker threads when n ≥ threshold.</summary>
    public static void Run<T, TK>(TK k, T* a, T* b, T* c, T* d, T* y, nint n, int threshold)
        where T : unmanaged where TK : unmanaged, IRangeKernel<T>
    {
        int threads = WorkerPool.MaxThreads;
        if (threads <= 1 || n < threshold) { k.Run(a, b, c, d, y, n); return; }
        int parts = (int)Math.Min(threads, n / (threshold / 2));
        nint chunk = ((n + parts - 1) / parts + 63) & ~(nint)63; // whole cache lines per part
        var st = new State<T, TK> { K = k, A = a, B = b, C = c, D = d, Y = y, N = n, Chunk = chunk };
        WorkerPool.For(parts, &Body<T, TK>, &st);
    }

    // ------------------------------------------------------------------ range kernels per arity

    /// <summary>y = op(a).</summary>
    public struct K1<T, TOp> : IRangeKernel<T> where T : unmanaged where TOp : unmanaged, IVec1<T>
    {
        /// <summary>The vector map.</summary>
        public TOp Op;
        /// <inheritdoc/>
        public readonly void Run(T* a, T* b, T* c, T* d, T* y, nint n)
        {
            nint w = Vector256<T>.Count, i = 0;
            for (; i <= n - 2 * w; i += 2 * w)
            {
                var v0 = Vector256.Load(a + i);
                var v1 = Vector256.Load(a + i + w);
                Op.Invoke(v0).Store(y + i);
                Op.Invoke(v1).Store(y + i + w);
            }
            for (; i <= n - w; i += w) Op.Invoke(Vector256.Load(a + i)).Store(y + i);
            if (i < n)
            {
                T* ta = stackalloc T[Vector256<T>.Count];
                int r = (int)(n - i);
                Vector256<T>.Zero.Store(ta);
                Copy(a + i, ta, r);
                Op.Invoke(Vector256.Load(ta)).Store(ta);
                Copy(ta, y + i, r);
            }
        }
    }

    /// <summary>y = op(a, b).</summary>
    public struct K2<T, TOp> : IRangeKernel<T> where T : unmanaged where TOp : unmanaged, IVec2<T>
    {
        /// <summary>The vector map.</summary>
        public TOp Op;
        /// <inheritdoc/>
        public readonly void Run(T* a, T* b, T* c, T* d, T* y, nint n)
        {
            nint w = Vector256<T>.Count, i = 0;
            for (; i <= n - 2 * w; i += 2 * w)
            {
                var r0 = Op.Invoke(Vector256.Load(a + i), Vector256.Load(b + i));
                var r1 = Op.Invoke(Vector256.Load(a + i + w), Vector256.Load(b + i + w));
                r0.Store(y + i);
                r1.Store(y + i + w);
            }
            for (; i <= n - w; i += w) Op.Invoke(Vector256.Load(a + i), Vector256.Load(b + i)).Store(y + i);
            if (i < n)
            {
                T* t = stackalloc T[2 * Vector256<T>.Count];
                int r = (int)(n - i); int wc = Vector256<T>.Count;
                Vector256<T>.Zero.Store(t); Vector256<T>.Zero.Store(t + wc);
                Copy(a + i, t, r); Copy(b + i, t + wc, r);
                Op.Invoke(Vector256.Load(t), Vector256.Load(t + wc)).Store(t);
                Copy(t, y + i, r);
            }
        }
    }

    /// <summary>y = op(a, b, c) (backward maps pass c = y = gx).</summary>
    public struct K3<T, TOp> : IRangeKernel<T> where T : unmanaged where TOp : unmanaged, IVec3<T>
    {
        /// <summary>The vector map.</summary>
        public TOp Op;
        /// <inheritdoc/>
        public readonly void Run(T* a, T* b, T* c, T* d, T* y, nint n)
        {
            nint w = Vector256<T>.Count, i = 0;
            for (; i <= n - 2 * w; i += 2 * w)
            {
                var r0 = Op.Invoke(Vector256.Load(a + i), Vector256.Load(b + i), Vector256.Load(c + i));
                var r1 = Op.Invoke(Vector256.Load(a + i + w), Vector256.Load(b + i + w), Vector256.Load(c + i + w));
                r0.Store(y + i);
                r1.Store(y + i + w);
            }
            for (; i <= n - w; i += w) Op.Invoke(Vector256.Load(a + i), Vector256.Load(b + i), Vector256.Load(c + i)).Store(y + i);
            if (i < n)
            {
                int wc = Vector256<T>.Count;
                T* t = stackalloc T[3 * Vector256<T>.Count];
                int r = (int)(n - i);
                for (int j = 0; j < 3; j++) Vector256<T>.Zero.Store(t + j * wc);
                Copy(a + i, t, r); Copy(b + i, t + wc, r); Copy(c + i, t + 2 * wc, r);
                Op.Invoke(Vector256.Load(t), Vector256.Load(t + wc), Vector256.Load(t + 2 * wc)).Store(t);
                Copy(t, y + i, r);
            }
        }
    }

    /// <summary>y = op(a, b, c, d).</summary>
    public struct K4<T, TOp> : IRangeKernel<T> where T : unmanaged where TOp : unmanaged, IVec4<T>
    {
        /// <summary>The vector map.</summary>
        public TOp Op;
        /// <inheritdoc/>
        public readonly void Run(T* a, T* b, T* c, T* d, T* y, nint n)
        {
            nint w = Vector256<T>.Count, i = 0;
            for (; i <= n - w; i += w)
                Op.Invoke(Vector256.Load(a + i), Vector256.Load(b + i), Vector256.Load(c + i), Vector256.Load(d + i)).Store(y + i);
            if (i < n)
            {
                int wc = Vector256<T>.Count;
                T* t = stackalloc T[4 * Vector256<T>.Count];
                int r = (int)(n - i);
                for (int j = 0; j < 4; j++) Vector256<T>.Zero.Store(t + j * wc);
                Copy(a + i, t, r); Copy(b + i, t + wc, r); Copy(c + i, t + 2 * wc, r); Copy(d + i, t + 3 * wc, r);
                Op.Invoke(Vector256.Load(t), Vector256.Load(t + wc), Vector256.Load(t + 2 * wc), Vector256.Load(t + 3 * wc)).Store(t);
                Copy(t, y + i, r);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy<T>(T* src, T* dst, int n) where T : unmanaged
    {
        for (int j = 0; j < n; j++) dst[j] = src[j];
    }
}
