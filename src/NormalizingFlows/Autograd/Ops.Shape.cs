using System.Numerics;
using System.Runtime.InteropServices;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Autograd;

public static partial class Ops
{
    /// <summary>Columns [start, start + count) of a 2-D value (a copy).</summary>
    public static Var<T> SliceColumns<T>(Var<T> x, int start, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xv = x.Value;
        if (xv.Rank != 2) throw new ArgumentException($"SliceColumns needs [N, C], got {xv.ShapeString}");
        int n = xv.Dim(0), c = xv.Dim(1);
        if (start < 0 || count < 0 || start + count > c)
            throw new ArgumentOutOfRangeException(nameof(start), $"columns [{start}, {start + count}) outside [0, {c})");
        var y = Tensor<T>.Empty(n, count);
        var src = xv.ReadOnlySpan; var dst = y.Span;
        for (int r = 0; r < n; r++) src.Slice(r * c + start, count).CopyTo(dst.Slice(r * count, count));
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int r = 0; r < n; r++)
            {
                var gr = gx.Slice(r * c + start, count); var yr = gy.Slice(r * count, count);
                for (int j = 0; j < count; j++) gr[j] += yr[j];
            }
        });
    }

    /// <summary>Splits a 2-D value into consecutive column blocks of the given widths (which must add up to its width).</summary>
    public static Var<T>[] SplitColumns<T>(Var<T> x, params int[] widths) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int total = 0;
        foreach (int w in widths) total += w;
        if (total != x.Value.Cols) throw new ArgumentException($"SplitColumns: widths add up to {total}, value has {x.Value.Cols} columns");
        var parts = new Var<T>[widths.Length];
        for (int i = 0, start = 0; i < widths.Length; start += widths[i], i++) parts[i] = SliceColumns(x, start, widths[i]);
        return parts;
    }

    /// <summary>Concatenates 2-D values with the same number of rows along the column axis.</summary>
    public static Var<T> ConcatColumns<T>(params ReadOnlySpan<Var<T>> parts) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (parts.Length == 0) throw new ArgumentException("ConcatColumns needs at least one value");
        int n = parts[0].Value.Dim(0), total = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            var p = parts[i].Value;
            if (p.Rank != 2 || p.Dim(0) != n)
                throw new ArgumentException($"ConcatColumns: part {i} has shape {p.ShapeString}, expected [{n}, *]");
            total += p.Dim(1);
        }
        var y = Tensor<T>.Empty(n, total);
        var dst = y.Span;
        for (int i = 0, off = 0; i < parts.Length; off += parts[i].Value.Dim(1), i++)
        {
            var src = parts[i].Value.ReadOnlySpan; int w = parts[i].Value.Dim(1);
            for (int r = 0; r < n; r++) src.Slice(r * w, w).CopyTo(dst.Slice(r * total + off, w));
        }
        if (!Record(parts)) return ConstantNode<T>.Create(y);
        return StateNode<T, int>.Create(y, parts, total, static (total, o) =>
        {
            var gy = o.Grad!.ReadOnlySpan;
            var parts = o.Inputs;
            int n = o.Value.Dim(0);
            for (int i = 0, off = 0; i < parts.Length; off += parts[i].Value.Dim(1), i++)
            {
                if (!parts[i].RequiresGrad) continue;
                var g = parts[i].GradBuffer().Span; int w = parts[i].Value.Dim(1);
                for (int r = 0; r < n; r++)
                {
                    var gr = g.Slice(r * w, w); var yr = gy.Slice(r * total + off, w);
                    for (int j = 0; j < w; j++) gr[j] += yr[j];
                }
            }
        });
    }

    /// <summary>The same elements under another shape (the value is a view of the input's buffer).</summary>
    public static Var<T> Reshape<T>(Var<T> x, params int[] shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = x.Value.Reshape(shape);
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int i = 0; i < gx.Length; i++) gx[i] += gy[i];
        });
    }

    /// <summary>
    /// Per-row gather along the last axis: y[r, j] = x[r, index[r·k + j]] for a [N, C] value and N·k indices in
    /// [0, C); the backward scatters (adds) into the gathered positions.
    /// </summary>
    public static Var<T> GatherColumns<T>(Var<T> x, int[] index, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xv = x.Value;
        if (xv.Rank != 2) throw new ArgumentException($"GatherColumns needs [N, C], got {xv.ShapeString}");
        int n = xv.Dim(0), c = xv.Dim(1);
        if (index.Length != n * k) throw new ArgumentException($"GatherColumns: {index.Length} indices for {n} rows × {k}");
        var y = Tensor<T>.Empty(n, k);
        var src = xv.ReadOnlySpan; var dst = y.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0; j < k; j++)
            {
                int idx = index[r * k + j];
                if ((uint)idx >= (uint)c) throw new ArgumentOutOfRangeException(nameof(index), $"index {idx} at row {r} outside [0, {c})");
                dst[r * k + j] = src[r * c + idx];
            }
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int r = 0; r < n; r++)
                for (int j = 0; j < k; j++) gx[r * c + index[r * k + j]] += gy[r * k + j];
        });
    }
}

public static partial class Ops
{
    /// <summary>The given columns of a 2-D value, in the given order: y[:, j] = x[:, columns[j]].</summary>
    public static Var<T> SelectColumns<T>(Var<T> x, int[] columns) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xv = x.Value;
        if (xv.Rank != 2) throw new ArgumentException($"SelectColumns needs [N, C], got {xv.ShapeString}");
        int n = xv.Dim(0), c = xv.Dim(1), k = columns.Length;
        foreach (int col in columns)
            if ((uint)col >= (uint)c) throw new ArgumentOutOfRangeException(nameof(columns), $"column {col} outside [0, {c})");
        var y = Tensor<T>.Empty(n, k);
        var src = xv.ReadOnlySpan; var dst = y.Span;
        int parity = typeof(T) == typeof(float) ? Interleave.ParityOf(columns, c) : -1;
        if (parity >= 0)
            // every other column of an even width (alternating masks): a stride-2 gather over the whole buffer
            Interleave.TakeParity(MemoryMarshal.Cast<T, float>(src), parity, MemoryMarshal.Cast<T, float>(dst));
        else
            for (int r = 0; r < n; r++)
            {
                var sr = src.Slice(r * c, c); var dr = dst.Slice(r * k, k);
                for (int j = 0; j < k; j++) dr[j] = sr[columns[j]];
            }
        if (!Record(x)) return ConstantNode<T>.Create(y);
        return StateNode<T, int[]>.Create(y, [x], columns, static (columns, o) =>
        {
            var x = o.Inputs[0];
            int n = o.Rows, c = x.Cols, k = columns.Length;
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span;
            for (int r = 0; r < n; r++)
            {
                var gr = gx.Slice(r * c, c); var yr = gy.Slice(r * k, k);
                for (int j = 0; j < k; j++) gr[columns[j]] += yr[j];
            }
        });
    }

    /// <summary>
    /// Interleaves two 2-D values into one of <paramref name="total"/> columns: y[:, aColumns[j]] = a[:, j] and
    /// y[:, bColumns[j]] = b[:, j]; the two column sets must partition [0, total).
    /// </summary>
    public static Var<T> MergeColumns<T>(Var<T> a, int[] aColumns, Var<T> b, int[] bColumns, int total) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var av = a.Value; var bv = b.Value;
        int n = av.Dim(0);
        if (av.Rank != 2 || bv.Rank != 2 || bv.Dim(0) != n || av.Dim(1) != aColumns.Length || bv.Dim(1) != bColumns.Length || aColumns.Length + bColumns.Length != total)
            throw new ArgumentException($"MergeColumns: parts {av.ShapeString} and {bv.ShapeString} do not fit {aColumns.Length} + {bColumns.Length} = {total} columns");
        var y = Tensor<T>.Empty(n, total);
        var ys = y.Span; var asp = av.ReadOnlySpan; var bsp = bv.ReadOnlySpan;
        int ka = aColumns.Length, kb = bColumns.Length;
        int pa = typeof(T) == typeof(float) ? Interleave.ParityOf(aColumns, total) : -1;
        if (pa >= 0 && Interleave.ParityOf(bColumns, total) == 1 - pa)
        {
            // the two parities of an even width (alternating masks): one interleave over the whole buffer
            var fa = MemoryMarshal.Cast<T, float>(asp); var fb = MemoryMarshal.Cast<T, float>(bsp);
            Interleave.Merge(pa == 0 ? fa : fb, pa == 0 ? fb : fa, MemoryMarshal.Cast<T, float>(ys));
        }
        else
            for (int r = 0; r < n; r++)
            {
                var yr = ys.Slice(r * total, total);
                for (int j = 0; j < ka; j++) yr[aColumns[j]] = asp[r * ka + j];
                for (int j = 0; j < kb; j++) yr[bColumns[j]] = bsp[r * kb + j];
            }
        if (!Record(a, b)) return ConstantNode<T>.Create(y);
        return StateNode<T, (int[], int[])>.Create(y, [a, b], (aColumns, bColumns), static (columns, o) =>
        {
            var (aColumns, bColumns) = columns;
            Var<T> a = o.Inputs[0], b = o.Inputs[1];
            int n = o.Rows, total = o.Cols, ka = aColumns.Length, kb = bColumns.Length;
            var gy = o.Grad!.ReadOnlySpan;
            if (a.RequiresGrad)
            {
                var ga = a.GradBuffer().Span;
                for (int r = 0; r < n; r++) for (int j = 0; j < ka; j++) ga[r * ka + j] += gy[r * total + aColumns[j]];
            }
            if (b.RequiresGrad)
            {
                var gb = b.GradBuffer().Span;
                for (int r = 0; r < n; r++) for (int j = 0; j < kb; j++) gb[r * kb + j] += gy[r * total + bColumns[j]];
            }
        });
    }
}
