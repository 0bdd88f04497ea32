using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Autograd;

public static partial class Ops
{
    /// <summary>Mean squared error mean((prediction − target)²) over all elements.</summary>
    public static Var<T> MseLoss<T>(Var<T> prediction, Var<T> target) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!prediction.Value.SameShape(target.Value))
            throw new ArgumentException($"MseLoss: prediction {prediction.Value.ShapeString} and target {target.Value.ShapeString} differ");
        return Mean(Square(Sub(prediction, target)));
    }

    /// <summary>
    /// Binary cross-entropy on logits, mean over elements: max(z, 0) − z·t + log(1 + exp(−|z|)), stable for any z.
    /// </summary>
    public static Var<T> BinaryCrossEntropyWithLogits<T>(Var<T> logits, Tensor<T> targets) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var z = logits.Value;
        if (!z.SameShape(targets)) throw new ArgumentException($"BinaryCrossEntropyWithLogits: logits {z.ShapeString} and targets {targets.ShapeString} differ");
        int n = z.Length;
        if (n == 0) throw new ArgumentException("BinaryCrossEntropyWithLogits of an empty batch");
        var zs = z.ReadOnlySpan; var ts = targets.ReadOnlySpan;
        double s = 0;
        for (int i = 0; i < n; i++)
        {
            double zi = double.CreateTruncating(zs[i]), ti = double.CreateTruncating(ts[i]);
            s += Math.Max(zi, 0) - zi * ti + Math.Log(1 + Math.Exp(-Math.Abs(zi)));
        }
        var y = Tensor<T>.Scalar(T.CreateTruncating(s / n));
        if (!Record(logits)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [logits], o =>
        {
            double g = double.CreateTruncating(o.Grad!.Span[0]) / n;
            var gx = logits.GradBuffer().Span;
            var zs = z.ReadOnlySpan; var ts = targets.ReadOnlySpan;
            for (int i = 0; i < n; i++)
            {
                double zi = double.CreateTruncating(zs[i]);
                double sig = zi >= 0 ? 1 / (1 + Math.Exp(-zi)) : Math.Exp(zi) / (1 + Math.Exp(zi));
                gx[i] += T.CreateTruncating(g * (sig - double.CreateTruncating(ts[i])));
            }
        });
    }

    /// <summary>Softmax cross-entropy of [N, K] logits against integer labels in [0, K), mean over rows.</summary>
    public static Var<T> CrossEntropy<T>(Var<T> logits, int[] labels) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var z = logits.Value;
        if (z.Rank != 2) throw new ArgumentException($"CrossEntropy needs [N, K] logits, got {z.ShapeString}");
        int n = z.Dim(0), k = z.Dim(1);
        if (labels.Length != n) throw new ArgumentException($"CrossEntropy: {labels.Length} labels for {n} rows");
        if (n == 0) throw new ArgumentException("CrossEntropy of an empty batch");
        var lse = Tensor<T>.Empty(n);
        Tensors.Kernels.Reductions.LogSumExpRows(z.ReadOnlySpan, n, k, lse.Span);
        var zs = z.ReadOnlySpan; var ls = lse.ReadOnlySpan;
        double s = 0;
        for (int r = 0; r < n; r++)
        {
            if ((uint)labels[r] >= (uint)k) throw new ArgumentOutOfRangeException(nameof(labels), $"label {labels[r]} at row {r} outside [0, {k})");
            s += double.CreateTruncating(ls[r]) - double.CreateTruncating(zs[r * k + labels[r]]);
        }
        var y = Tensor<T>.Scalar(T.CreateTruncating(s / n));
        if (!Record(logits)) return ConstantNode<T>.Create(y);
        return new Var<T>(y, [logits], o =>
        {
            T g = o.Grad!.Span[0] / T.CreateTruncating(n);
            var gx = logits.GradBuffer().Span;
            var zs = z.ReadOnlySpan; var ls = lse.ReadOnlySpan;
            for (int r = 0; r < n; r++)
            {
                for (int j = 0; j < k; j++) gx[r * k + j] += g * T.Exp(zs[r * k + j] - ls[r]);
                gx[r * k + labels[r]] -= g;
            }
        });
    }
}
