using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace NormalizingFlows.Tensors;

/// <summary>
/// A dense, contiguous, row-major tensor of <typeparamref name="T"/> (float is the fast path, double serves exact
/// checks). Batch-first: axis 0 is the event axis. Buffers come from <see cref="TensorPool{T}"/>; a tensor created
/// inside a <see cref="TensorScope"/> gives its buffer back when the scope ends.
/// </summary>
public sealed class Tensor<T> : ITrackedTensor, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[]? _data;
    private int[] _shape;          // the fields change only when a recycling scope hands the object to a new tensor
    private readonly bool _ownsBuffer;
    private byte _stripe; // pool stripe of an owned buffer
    private byte _home;   // recycler stripe of the thread that created it
    private bool _tracked;

    private Tensor(T[] data, int[] shape, int length, bool ownsBuffer, bool register, int stripe = 0)
    {
        _stripe = (byte)stripe;
        _data = data;
        _shape = shape;
        Length = length;
        _ownsBuffer = ownsBuffer;
        if (register)
        {
            _tracked = true;
            TensorScope.Register(this);
        }
    }

    /// <summary>Number of elements.</summary>
    public int Length { get; private set; }

    /// <summary>Number of axes.</summary>
    public int Rank => _shape.Length;

    /// <summary>The shape (do not modify).</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Size of axis <paramref name="axis"/> (negative counts from the end).</summary>
    public int Dim(int axis) => _shape[axis < 0 ? _shape.Length + axis : axis];

    /// <summary>Rows of the 2-D view: axis 0 for rank ≥ 2, 1 for rank 0 and 1 (a rank-1 tensor is a row, as in NumPy broadcasting).</summary>
    public int Rows => _shape.Length >= 2 ? _shape[0] : 1;

    /// <summary>Columns of the 2-D view: the product of all axes but the first for rank ≥ 2, the length for rank 1.</summary>
    public int Cols => _shape.Length >= 2 ? (_shape[0] == 0 ? ProductFrom(_shape, 1) : Length / _shape[0]) : Length;

    /// <summary>True once the buffer was given back to the pool.</summary>
    public bool IsDisposed => _data is null;

    /// <summary>The elements, row-major.</summary>
    public Span<T> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(Data, 0, Length);
    }

    /// <summary>The elements as a read-only span.</summary>
    public ReadOnlySpan<T> ReadOnlySpan => new(Data, 0, Length);

    /// <summary>The underlying (pooled) buffer; may be longer than <see cref="Length"/>.</summary>
    internal T[] Data
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _data ?? ThrowDisposed();
    }

    /// <summary>Row <paramref name="r"/> of the 2-D view.</summary>
    public Span<T> Row(int r)
    {
        int c = Cols;
        return new Span<T>(Data, r * c, c);
    }

    /// <summary>Element at flat index <paramref name="i"/>.</summary>
    public T this[int i]
    {
        get => Span[i];
        set => Span[i] = value;
    }

    /// <summary>Element at (row, column) of the 2-D view.</summary>
    public T this[int r, int c]
    {
        get
        {
            int cols = Cols;
            if ((uint)c >= (uint)cols) throw new IndexOutOfRangeException($"column {c} outside [0, {cols})");
            return Span[r * cols + c];
        }
        set
        {
            int cols = Cols;
            if ((uint)c >= (uint)cols) throw new IndexOutOfRangeException($"column {c} outside [0, {cols})");
            Span[r * cols + c] = value;
        }
    }

    // ---------------------------------------------------------------- creation

    /// <summary>A tensor with undefined contents (pooled buffer).</summary>
    public static Tensor<T> Empty(params int[] shape) => Create(ShapeCache.Get(shape));

    /// <summary>A rank-1 tensor of <paramref name="length"/> elements, contents undefined.</summary>
    public static Tensor<T> Empty(int length) => Create(ShapeCache.Get(length));

    /// <summary>A [<paramref name="rows"/>, <paramref name="cols"/>] tensor, contents undefined.</summary>
    public static Tensor<T> Empty(int rows, int cols) => Create(ShapeCache.Get(rows, cols));

    /// <summary>A tensor of the same shape as <paramref name="like"/>, contents undefined.</summary>
    public static Tensor<T> EmptyLike(Tensor<T> like) => Create(like._shape); // shapes are never modified, so they are shared

    /// <summary>A tracked tensor with a pooled buffer over <paramref name="shape"/> (shared, never modified).</summary>
    private static Tensor<T> Create(int[] shape)
    {
        int n = CheckedLength(shape);
        int stripe = TensorPool<T>.CurrentStripe;
        var data = TensorPool<T>.Rent(n, stripe);
        int home = ObjectRecycler<Tensor<T>>.CurrentStripe;
        var t = ObjectRecycler<Tensor<T>>.Take();
        if (t is null) t = new Tensor<T>(data, shape, n, ownsBuffer: true, register: true, stripe);
        else
        {
            (t._data, t._shape, t.Length, t._stripe, t._tracked) = (data, shape, n, (byte)stripe, true);
            TensorScope.Register(t);
        }
        t._home = (byte)home;
        return t;
    }

    /// <summary>A tensor of zeros.</summary>
    public static Tensor<T> Zeros(params int[] shape)
    {
        var t = Empty(shape);
        t.Clear();
        return t;
    }

    /// <summary>A rank-1 tensor of <paramref name="length"/> zeros.</summary>
    public static Tensor<T> Zeros(int length)
    {
        var t = Empty(length);
        t.Clear();
        return t;
    }

    /// <summary>A [<paramref name="rows"/>, <paramref name="cols"/>] tensor of zeros.</summary>
    public static Tensor<T> Zeros(int rows, int cols)
    {
        var t = Empty(rows, cols);
        t.Clear();
        return t;
    }

    /// <summary>A tensor of zeros with the shape of <paramref name="like"/>.</summary>
    public static Tensor<T> ZerosLike(Tensor<T> like)
    {
        var t = EmptyLike(like);
        t.Clear();
        return t;
    }

    /// <summary>Sets every element to zero (large tensors are cleared by the worker pool in parallel).</summary>
    public void Clear()
    {
        const int chunk = 1 << 16;
        if (Length < 4 * chunk || Kernels.WorkerPool.MaxThreads < 2)
        {
            Span.Clear();
            return;
        }
        ClearInParallel(Data, Length, chunk);
    }

    // A method of its own: the lambda's captured locals would otherwise be allocated on every Clear, serial ones too.
    private static void ClearInParallel(T[] data, int length, int chunk)
        => Kernels.ParallelRows.For((length + chunk - 1) / chunk, 2, (c0, c1) =>
        {
            int start = c0 * chunk, end = Math.Min(length, c1 * chunk);
            data.AsSpan(start, end - start).Clear();
        });

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor<T> Full(T value, params int[] shape)
    {
        var t = Empty(shape);
        t.Span.Fill(value);
        return t;
    }

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    public static Tensor<T> Scalar(T value)
    {
        var t = Empty();
        t.Span[0] = value;
        return t;
    }

    /// <summary>Copies <paramref name="values"/> into a new tensor of the given shape.</summary>
    public static Tensor<T> From(ReadOnlySpan<T> values, params int[] shape)
    {
        var t = Empty(shape);
        if (values.Length != t.Length)
            throw new ArgumentException($"{values.Length} values do not fill shape {FormatShape(shape)} ({t.Length} elements)", nameof(values));
        values.CopyTo(t.Span);
        return t;
    }

    /// <summary>Copies a 2-D array into a new [rows, cols] tensor.</summary>
    public static Tensor<T> From(T[,] values)
    {
        int r = values.GetLength(0), c = values.GetLength(1);
        var t = Empty(r, c);
        var s = t.Span;
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) s[i * c + j] = values[i, j];
        return t;
    }

    /// <summary>Converts from double values (rounding for float).</summary>
    public static Tensor<T> FromDoubles(ReadOnlySpan<double> values, params int[] shape)
    {
        var t = Empty(shape);
        if (values.Length != t.Length)
            throw new ArgumentException($"{values.Length} values do not fill shape {FormatShape(shape)}", nameof(values));
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = T.CreateTruncating(values[i]);
        return t;
    }

    /// <summary>A deep copy.</summary>
    public Tensor<T> Clone()
    {
        var t = EmptyLike(this);
        ReadOnlySpan.CopyTo(t.Span);
        return t;
    }

    /// <summary>A tensor that shares this buffer under another shape of the same length (a view: disposing it frees nothing).</summary>
    public Tensor<T> Reshape(params int[] shape)
    {
        Span<int> s = shape.Length <= 8 ? stackalloc int[shape.Length] : new int[shape.Length];
        shape.CopyTo(s);
        int infer = s.IndexOf(-1);
        if (infer >= 0)
        {
            int rest = 1;
            for (int i = 0; i < s.Length; i++) if (i != infer) rest *= s[i];
            if (rest == 0 || Length % rest != 0)
                throw new ArgumentException($"cannot reshape {FormatShape(_shape)} to {FormatShape(shape)}");
            s[infer] = Length / rest;
        }
        var cached = ShapeCache.Get(s);
        int n = CheckedLength(cached);
        if (n != Length) throw new ArgumentException($"cannot reshape {FormatShape(_shape)} ({Length} elements) to {FormatShape(shape)}");
        return new Tensor<T>(Data, cached, n, ownsBuffer: false, register: false);
    }

    /// <summary>A view of the first <paramref name="rows"/> rows (axis 0), sharing this buffer (disposing it frees nothing).</summary>
    public Tensor<T> FirstRows(int rows)
    {
        if (_shape.Length == 0) throw new InvalidOperationException("a rank-0 tensor has no rows");
        if ((uint)rows > (uint)_shape[0]) throw new ArgumentOutOfRangeException(nameof(rows), $"{rows} rows requested from {FormatShape(_shape)}");
        var s = WithFirst(rows);
        return new Tensor<T>(Data, s, CheckedLength(s), ownsBuffer: false, register: false);
    }

    /// <summary>Rows [<paramref name="start"/>, start + <paramref name="count"/>) along axis 0 as a new tensor (one contiguous copy).</summary>
    public Tensor<T> CopyRows(int start, int count)
    {
        if (_shape.Length == 0) throw new InvalidOperationException("a rank-0 tensor has no rows");
        if (start < 0 || count < 0 || (long)start + count > _shape[0])
            throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {(long)start + count}) requested from {FormatShape(_shape)}");
        var t = Create(WithFirst(count));
        int stride = _shape[0] == 0 ? 0 : Length / _shape[0];
        ReadOnlySpan.Slice(start * stride, t.Length).CopyTo(t.Span);
        return t;
    }

    /// <summary>Converts element type (double ↔ float), copying.</summary>
    public Tensor<TOut> Cast<TOut>() where TOut : unmanaged, IFloatingPointIeee754<TOut>
    {
        var t = Tensor<TOut>.Empty(_shape);
        var src = ReadOnlySpan;
        var dst = t.Span;
        for (int i = 0; i < src.Length; i++) dst[i] = TOut.CreateTruncating(src[i]);
        return t;
    }

    /// <summary>Copies the elements into a new array.</summary>
    public T[] ToArray() => ReadOnlySpan.ToArray();

    /// <summary>Element values as doubles.</summary>
    public double[] ToDoubleArray()
    {
        var src = ReadOnlySpan;
        var d = new double[src.Length];
        for (int i = 0; i < d.Length; i++) d[i] = double.CreateTruncating(src[i]);
        return d;
    }

    /// <summary>Copies the elements into <paramref name="destination"/>, which must have the same length.</summary>
    public void CopyTo(Tensor<T> destination)
    {
        if (destination.Length != Length)
            throw new ArgumentException($"destination has {destination.Length} elements, source {Length}", nameof(destination));
        ReadOnlySpan.CopyTo(destination.Span);
    }

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public void Fill(T value) => Span.Fill(value);

    /// <summary>True if the shapes are equal.</summary>
    public bool SameShape(Tensor<T> other) => _shape.AsSpan().SequenceEqual(other._shape);

    /// <summary>True if the shape equals <paramref name="shape"/>.</summary>
    public bool HasShape(params int[] shape) => _shape.AsSpan().SequenceEqual(shape);

    /// <summary>The shape as text, e.g. "[512, 18]".</summary>
    public string ShapeString => FormatShape(_shape);

    /// <summary>Removes this tensor from its <see cref="TensorScope"/>, so it lives on after the scope ends (returns this).</summary>
    public Tensor<T> Untrack()
    {
        _tracked = false;
        return this;
    }

    /// <summary>Returns the buffer to the pool. Idempotent; views free nothing.</summary>
    public void Dispose()
    {
        var d = _data;
        if (d is null) return;
        _data = null;
        _tracked = false;
        if (_ownsBuffer) TensorPool<T>.Return(d, _stripe);
    }

    void ITrackedTensor.ReleaseIfTracked()
    {
        if (_tracked) Dispose();
    }

    void ITrackedTensor.Recycle()
    {
        if (_tracked) Dispose();
        // a tensor disposed here or earlier in its scope is dead (one untracked and still alive is kept by someone)
        if (_ownsBuffer && _data is null) ObjectRecycler<Tensor<T>>.Give(this, _home);
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor<").Append(typeof(T).Name).Append('>').Append(FormatShape(_shape));
        if (_data is null) return sb.Append(" (disposed)").ToString();
        sb.Append(" [");
        int n = Math.Min(Length, 8);
        for (int i = 0; i < n; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(double.CreateTruncating(_data[i]).ToString("G6", System.Globalization.CultureInfo.InvariantCulture));
        }
        if (Length > n) sb.Append(", …");
        return sb.Append(']').ToString();
    }

    /// <summary>Formats a shape as "[a, b]".</summary>
    public static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>This shape with axis 0 set to <paramref name="first"/>.</summary>
    private int[] WithFirst(int first)
    {
        Span<int> s = _shape.Length <= 8 ? stackalloc int[_shape.Length] : new int[_shape.Length];
        _shape.CopyTo(s);
        s[0] = first;
        return ShapeCache.Get(s);
    }

    private static int CheckedLength(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {FormatShape(shape)}");
            n *= d;
            if (n > int.MaxValue) throw new ArgumentException($"shape {FormatShape(shape)} has more than 2^31 elements");
        }
        return (int)n;
    }

    private static int ProductFrom(int[] s, int from)
    {
        int p = 1;
        for (int i = from; i < s.Length; i++) p *= s[i];
        return p;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T[] ThrowDisposed() => throw new ObjectDisposedException("Tensor", "the tensor's buffer was returned to the pool (its TensorScope ended or it was disposed)");
}
