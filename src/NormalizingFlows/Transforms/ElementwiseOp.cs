using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Differentiable application of a parameter-free elementwise bijection to a [N, D] value: one pass of span code
/// computes the outputs, the per-row log-determinant and (when recording) the two derivatives the backward needs.
/// </summary>
public static class ElementwiseOp
{
    /// <summary>Applies <paramref name="kernel"/> to every element of <paramref name="x"/>; returns y [N, D] and Σ_j log|f′| per row [N].</summary>
    public static (Var<T> Y, Var<T> LogAbsDet) Apply<T>(Var<T> x, ElementwiseKernel<T> kernel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xv = x.Value;
        if (xv.Rank != 2) throw new ArgumentException($"elementwise transform input must be [batch, features], got {xv.ShapeString}");
        int n = xv.Dim(0), d = xv.Dim(1);
        bool record = GradMode.IsEnabled && x.RequiresGrad;
        var y = Tensor<T>.Empty(n, d);
        var lds = Tensor<T>.Empty(n, d);
        var dy = record ? Tensor<T>.Empty(n, d) : null;
        var dld = record ? Tensor<T>.Empty(n, d) : null;
        kernel(xv.ReadOnlySpan, y.Span, lds.Span, dy is null ? default : dy.Span, dld is null ? default : dld.Span);
        var logDet = Tensor<T>.Empty(n);
        Reductions.SumRows(lds.ReadOnlySpan, n, d, logDet.Span);
        lds.Dispose();
        if (!record) return (new Var<T>(y), new Var<T>(logDet));
        var yVar = new Var<T>(y, [x], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span; var s = dy!.ReadOnlySpan;
            for (int i = 0; i < gx.Length; i++) gx[i] += gy[i] * s[i];
        });
        var ldVar = new Var<T>(logDet, [x], o =>
        {
            var gl = o.Grad!.ReadOnlySpan; var gx = x.GradBuffer().Span; var s = dld!.ReadOnlySpan;
            for (int r = 0; r < n; r++)
            {
                T g = gl[r];
                for (int j = 0, k = r * d; j < d; j++, k++) gx[k] += g * s[k];
            }
        });
        return (yVar, ldVar);
    }

    /// <summary>Numerically stable softplus log(1 + eᵛ).</summary>
    internal static double Softplus(double v) => Math.Max(v, 0.0) + Log1p(Math.Exp(-Math.Abs(v)));

    /// <summary>Logistic sigmoid 1 / (1 + e⁻ᵛ), evaluated without overflow.</summary>
    internal static double Sigmoid(double v)
    {
        if (v >= 0) return 1.0 / (1.0 + Math.Exp(-v));
        double e = Math.Exp(v);
        return e / (1.0 + e);
    }

    /// <summary>log(1 + v), accurate near 0 (Kahan's trick; .NET's LogP1 is log(v + 1)).</summary>
    internal static double Log1p(double v)
    {
        double u = 1.0 + v;
        if (u == 1.0) return v;
        if (double.IsInfinity(u)) return Math.Log(u);
        return Math.Log(u) * v / (u - 1.0);
    }

    /// <summary>eᵛ − 1, accurate near 0 (Kahan's trick).</summary>
    internal static double Expm1(double v)
    {
        double u = Math.Exp(v);
        if (u == 1.0) return v;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        if (double.IsInfinity(u)) return u;
        return um1 * v / Math.Log(u);
    }

    /// <summary>log(1 − tanh²(v)) = 2·(log 2 − |v| − softplus(−2|v|)), finite for every finite v.</summary>
    internal static double LogSech2(double v)
    {
        double a = Math.Abs(v);
        return 2.0 * (Math.Log(2.0) - a - Softplus(-2.0 * a));
    }
}
