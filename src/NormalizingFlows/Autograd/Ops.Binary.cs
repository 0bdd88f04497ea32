using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

public static partial class Ops
{
    /// <summary>How the smaller operand of a binary op is broadcast against the larger one.</summary>
    internal enum Broadcast { Same, Scalar, Row, Column }

    /// <summary>Classifies the broadcast of <paramref name="small"/> against <paramref name="full"/>, or null if incompatible.</summary>
    internal static Broadcast? Classify<T>(Tensor<T> full, Tensor<T> small) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (full.SameShape(small)) return Broadcast.Same;
        if (small.Length == 1 && small.Rank <= full.Rank) return Broadcast.Scalar;
        if (full.Rank == 2)
        {
            int n = full.Dim(0), c = full.Dim(1);
            if ((small.Rank == 1 && small.Dim(0) == c) || (small.Rank == 2 && small.Dim(0) == 1 && small.Dim(1) == c)) return Broadcast.Row;
            if (small.Rank == 2 && small.Dim(0) == n && small.Dim(1) == 1) return Broadcast.Column;
        }
        return null;
    }

    /// <summary>Materialises <paramref name="small"/> broadcast to the shape of <paramref name="full"/>.</summary>
    internal static Tensor<T> Expand<T>(Tensor<T> small, Tensor<T> full, Broadcast kind) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (kind == Broadcast.Same) return small;
        var t = Tensor<T>.EmptyLike(full);
        var d = t.Span;
        var s = small.ReadOnlySpan;
        switch (kind)
        {
            case Broadcast.Scalar: d.Fill(s[0]); break;
            case Broadcast.Row:
                for (int r = 0, c = full.Cols; r < full.Rows; r++) s.CopyTo(d.Slice(r * c, c));
                break;
            case Broadcast.Column:
                for (int r = 0, c = full.Cols; r < full.Rows; r++) d.Slice(r * c, c).Fill(s[r]);
                break;
        }
        return t;
    }

    /// <summary>Adds a full-shape gradient into the gradient of a broadcast operand (summing over the broadcast axes).</summary>
    internal static void AccumulateReduced<T>(Tensor<T> fullGrad, Var<T> target, Broadcast kind, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = target.GradBuffer().Span;
        var src = fullGrad.ReadOnlySpan;
        switch (kind)
        {
            case Broadcast.Same:
                Elementwise.Axpy(scale, src, g);
                break;
            case Broadcast.Scalar:
                g[0] += scale * T.CreateTruncating(Reductions.Sum(src));
                break;
            case Broadcast.Row or Broadcast.Column:
            {
                bool row = kind == Broadcast.Row; // a row operand sums over the rows (per column), a column one over the columns
                var tmp = Tensor<T>.Empty(row ? fullGrad.Cols : fullGrad.Rows);
                if (row) Reductions.SumCols(src, fullGrad.Rows, fullGrad.Cols, tmp.Span);
                else Reductions.SumRows(src, fullGrad.Rows, fullGrad.Cols, tmp.Span);
                Elementwise.Axpy(scale, tmp.ReadOnlySpan, g);
                tmp.Dispose();
                break;
            }
        }
    }

    private enum BinaryKind { Add, Sub, Mul, Div }

    private static Var<T> Binary<T>(Var<T> a, Var<T> b, BinaryKind kind) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Put the full-shaped operand first for classification.
        bool aFull = a.Value.Length >= b.Value.Length;
        var full = aFull ? a.Value : b.Value;
        var small = aFull ? b.Value : a.Value;
        var bc = Classify(full, small)
            ?? throw new ArgumentException($"shapes {a.Value.ShapeString} and {b.Value.ShapeString} do not broadcast (supported: equal, scalar, row [C] or [1, C] against [N, C], column [N, 1] against [N, C])");
        var ka = aFull ? Broadcast.Same : bc;
        var kb = aFull ? bc : Broadcast.Same;
        var av = Expand(a.Value, full, ka);
        var bv = Expand(b.Value, full, kb);
        var y = Tensor<T>.EmptyLike(full);
        switch (kind)
        {
            case BinaryKind.Add: Elementwise.Add(av.ReadOnlySpan, bv.ReadOnlySpan, y.Span); break;
            case BinaryKind.Sub: Elementwise.Subtract(av.ReadOnlySpan, bv.ReadOnlySpan, y.Span); break;
            case BinaryKind.Mul: Elementwise.Multiply(av.ReadOnlySpan, bv.ReadOnlySpan, y.Span); break;
            default: Elementwise.Divide(av.ReadOnlySpan, bv.ReadOnlySpan, y.Span); break;
        }
        if (!Record(a, b))
        {
            if (!ReferenceEquals(av, a.Value)) av.Dispose();
            if (!ReferenceEquals(bv, b.Value)) bv.Dispose();
            return ConstantNode<T>.Create(y);
        }
        return StateNode<T, (BinaryKind, Broadcast, Broadcast, Tensor<T>, Tensor<T>)>.Create(y, [a, b], (kind, ka, kb, av, bv), static (state, o) =>
        {
            var (kind, ka, kb, av, bv) = state;
            Var<T> a = o.Inputs[0], b = o.Inputs[1];
            var gy = o.Grad!;
            switch (kind)
            {
                case BinaryKind.Add:
                    if (a.RequiresGrad) AccumulateReduced(gy, a, ka, T.One);
                    if (b.RequiresGrad) AccumulateReduced(gy, b, kb, T.One);
                    break;
                case BinaryKind.Sub:
                    if (a.RequiresGrad) AccumulateReduced(gy, a, ka, T.One);
                    if (b.RequiresGrad) AccumulateReduced(gy, b, kb, -T.One);
                    break;
                case BinaryKind.Mul:
                    if (a.RequiresGrad) AccumulateReduced(Mul(gy, bv), a, ka, T.One);
                    if (b.RequiresGrad) AccumulateReduced(Mul(gy, av), b, kb, T.One);
                    break;
                default:
                {
                    // y = a / b: da = gy / b, db = −gy·y / b
                    var t = Tensor<T>.EmptyLike(gy);
                    Elementwise.Divide(gy.ReadOnlySpan, bv.ReadOnlySpan, t.Span);
                    if (a.RequiresGrad) AccumulateReduced(t, a, ka, T.One);
                    if (b.RequiresGrad)
                    {
                        Elementwise.Multiply(t.ReadOnlySpan, o.Value.ReadOnlySpan, t.Span);
                        AccumulateReduced(t, b, kb, -T.One);
                    }
                    break;
                }
            }
        });
    }

    /// <summary>a + b (broadcasting).</summary>
    public static Var<T> Add<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> => Binary(a, b, BinaryKind.Add);

    /// <summary>a − b (broadcasting).</summary>
    public static Var<T> Sub<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> => Binary(a, b, BinaryKind.Sub);

    /// <summary>a·b elementwise (broadcasting).</summary>
    public static Var<T> Mul<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> => Binary(a, b, BinaryKind.Mul);

    /// <summary>a / b elementwise (broadcasting).</summary>
    public static Var<T> Div<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> => Binary(a, b, BinaryKind.Div);

    /// <summary>
    /// Elementwise choice: condition[i] ? a[i] : b[i] (equal shapes); each gradient flows only where its side was
    /// taken, so a NaN on the untaken side never leaks into the gradient.
    /// </summary>
    public static Var<T> Where<T>(bool[] condition, Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!a.Value.SameShape(b.Value)) throw new ArgumentException($"Where: shapes {a.Value.ShapeString} and {b.Value.ShapeString} differ");
        if (condition.Length != a.Value.Length) throw new ArgumentException($"Where: condition has {condition.Length} entries, values {a.Value.Length}");
        var y = Tensor<T>.EmptyLike(a.Value);
        var ys = y.Span; var av = a.Value.ReadOnlySpan; var bv = b.Value.ReadOnlySpan;
        for (int i = 0; i < ys.Length; i++) ys[i] = condition[i] ? av[i] : bv[i];
        if (!Record(a, b)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [a, b], o =>
        {
            var gy = o.Grad!.ReadOnlySpan;
            if (a.RequiresGrad) { var g = a.GradBuffer().Span; for (int i = 0; i < g.Length; i++) if (condition[i]) g[i] += gy[i]; }
            if (b.RequiresGrad) { var g = b.GradBuffer().Span; for (int i = 0; i < g.Length; i++) if (!condition[i]) g[i] += gy[i]; }
        });
    }
}
