using System.Numerics;
using System.Runtime.InteropServices;

namespace NormalizingFlows.Transforms.Splines;

/// <summary>
/// Piecewise-linear monotone map of [0, 1] onto itself (Müller et al. 2019, "Neural Importance Sampling"): K bins of
/// equal width whose probability masses Q = softmax(parameters) make the map the CDF of a piecewise-constant
/// density. Parameters per element: K. Outside [0, 1] the map continues with the boundary bins' slopes.
/// Float data goes through a vectorised float path (PiecewiseLinearSpline.Float.cs) where AVX2 + FMA are available.
/// </summary>
public sealed partial class PiecewiseLinearSpline : IElementwiseSpline
{
    private readonly double _minMass;

    /// <summary>Creates a family with <paramref name="bins"/> equal-width bins on [0, 1], each holding at least <paramref name="minBinMass"/>.</summary>
    public PiecewiseLinearSpline(int bins, double minBinMass = 1e-4)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), $"need at least one bin, got {bins}");
        if (minBinMass < 0 || minBinMass * bins >= 1) throw new ArgumentOutOfRangeException(nameof(minBinMass), $"minimum bin mass {minBinMass} × {bins} bins must be below 1");
        Bins = bins;
        _minMass = minBinMass;
    }

    /// <summary>Number of bins K.</summary>
    public int Bins { get; }

    /// <summary>Smallest probability mass of a bin.</summary>
    public double MinBinMass => _minMass;

    /// <inheritdoc/>
    public int ParametersPerElement => Bins;

    /// <inheritdoc/>
    public SplineDomain Domain => SplineDomain.UnitInterval;

    private void Check(int n, int parameters, int output)
    {
        if (parameters != n * Bins) throw new ArgumentException($"{parameters} spline parameters for {n} elements; expected {Bins} per element (K = {Bins})");
        if (output != n) throw new ArgumentException($"output length {output} differs from input length {n}");
    }

    /// <inheritdoc/>
    public void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, Span<T> y, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, parameters.Length, y.Length);
        if (typeof(T) == typeof(float) && UseFloatPath)
        {
            RunFloat(PlOp.Forward, MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(parameters), default, default, MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(logAbsDet), default);
            return;
        }
        int k = Bins;
        Span<double> q = stackalloc double[k], u = stackalloc double[k];
        for (int i = 0; i < x.Length; i++)
        {
            Load(parameters.Slice(i * k, k), u, q);
            double xi = double.CreateTruncating(x[i]);
            var (b, c, alpha) = Locate(xi, q);
            y[i] = T.CreateTruncating(c + alpha * q[b]);
            logAbsDet[i] = T.CreateTruncating(double.IsNaN(xi) ? double.NaN : Math.Log(k * q[b]));
        }
    }

    /// <inheritdoc/>
    public void Inverse<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, Span<T> x, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, parameters.Length, x.Length);
        if (typeof(T) == typeof(float) && UseFloatPath)
        {
            RunFloat(PlOp.Inverse, MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(parameters), default, default, MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(logAbsDet), default);
            return;
        }
        int k = Bins;
        Span<double> q = stackalloc double[k], u = stackalloc double[k];
        for (int i = 0; i < y.Length; i++)
        {
            Load(parameters.Slice(i * k, k), u, q);
            double yi = double.CreateTruncating(y[i]);
            var (b, c) = LocateInverse(yi, q);
            x[i] = T.CreateTruncating((b + (yi - c) / q[b]) / k);
            logAbsDet[i] = T.CreateTruncating(double.IsNaN(yi) ? double.NaN : -Math.Log(k * q[b]));
        }
    }

    /// <inheritdoc/>
    public void ForwardBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradY, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradX, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, parameters.Length, gradX.Length);
        if (typeof(T) == typeof(float) && UseFloatPath)
        {
            RunFloat(PlOp.ForwardBackward, MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(parameters), MemoryMarshal.Cast<T, float>(gradY), MemoryMarshal.Cast<T, float>(gradLogAbsDet), MemoryMarshal.Cast<T, float>(gradX), default, MemoryMarshal.Cast<T, float>(gradParameters));
            return;
        }
        int k = Bins;
        Span<double> q = stackalloc double[k], u = stackalloc double[k], gq = stackalloc double[k], gu = stackalloc double[k];
        for (int i = 0; i < x.Length; i++)
        {
            Load(parameters.Slice(i * k, k), u, q);
            double xi = double.CreateTruncating(x[i]), gy = double.CreateTruncating(gradY[i]), gl = double.CreateTruncating(gradLogAbsDet[i]);
            var (b, _, alpha) = Locate(xi, q);
            // y = Σ_{j<b} Q_j + α·Q_b with α = K·x − b (α may leave [0, 1] in the tails), logdet = log(K·Q_b)
            gq.Clear();
            for (int j = 0; j < b; j++) gq[j] = gy;
            gq[b] += gy * alpha + gl / q[b];
            gradX[i] += T.CreateTruncating(gy * k * q[b]);
            Scatter(u, gq, gu, gradParameters.Slice(i * k, k));
        }
    }

    /// <inheritdoc/>
    public void InverseBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradX, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradY, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, parameters.Length, gradY.Length);
        if (typeof(T) == typeof(float) && UseFloatPath)
        {
            RunFloat(PlOp.InverseBackward, MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(parameters), MemoryMarshal.Cast<T, float>(gradX), MemoryMarshal.Cast<T, float>(gradLogAbsDet), MemoryMarshal.Cast<T, float>(gradY), default, MemoryMarshal.Cast<T, float>(gradParameters));
            return;
        }
        int k = Bins;
        Span<double> q = stackalloc double[k], u = stackalloc double[k], gq = stackalloc double[k], gu = stackalloc double[k];
        for (int i = 0; i < y.Length; i++)
        {
            Load(parameters.Slice(i * k, k), u, q);
            double yi = double.CreateTruncating(y[i]), gx = double.CreateTruncating(gradX[i]), gl = double.CreateTruncating(gradLogAbsDet[i]);
            var (b, c) = LocateInverse(yi, q);
            // x = (b + (y − C_b)/Q_b)/K, logdet = −log(K·Q_b)
            double kq = k * q[b];
            gq.Clear();
            double gc = -gx / kq;
            for (int j = 0; j < b; j++) gq[j] = gc;
            gq[b] += -gx * (yi - c) / (kq * q[b]) - gl / q[b];
            gradY[i] += T.CreateTruncating(gx / kq);
            Scatter(u, gq, gu, gradParameters.Slice(i * k, k));
        }
    }

    /// <summary>Bin masses Q = minMass + (1 − K·minMass)·softmax(u); u keeps the softmax shares for the backward.</summary>
    private void Load<T>(ReadOnlySpan<T> p, Span<double> u, Span<double> q) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int j = 0; j < u.Length; j++) u[j] = double.CreateTruncating(p[j]);
        SplineMath.Softmax(u, q);
        u.Clear();
        double scale = 1 - Bins * _minMass;
        for (int j = 0; j < q.Length; j++)
        {
            u[j] = q[j];
            q[j] = _minMass + scale * q[j];
        }
    }

    private void Scatter<T>(ReadOnlySpan<double> shares, Span<double> gq, Span<double> gu, Span<T> gp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double scale = 1 - Bins * _minMass;
        for (int j = 0; j < gq.Length; j++) gq[j] *= scale;
        gu.Clear();
        SplineMath.SoftmaxBackward(shares, gq, gu);
        for (int j = 0; j < gu.Length; j++) gp[j] += T.CreateTruncating(gu[j]);
    }

    /// <summary>Bin b, cumulative mass before it, and position α = K·x − b (outside [0, 1] in the tails).</summary>
    private (int bin, double before, double alpha) Locate(double x, ReadOnlySpan<double> q)
    {
        int k = Bins;
        if (!(x >= 0)) return (0, 0, k * x);                         // left tail (and NaN)
        if (x >= 1) return (k - 1, 1 - q[k - 1], k * x - (k - 1));   // right tail continues the last bin
        int b = Math.Min((int)(x * k), k - 1);
        double c = 0;
        for (int j = 0; j < b; j++) c += q[j];
        return (b, c, k * x - b);
    }

    private static (int bin, double before) LocateInverse(double y, ReadOnlySpan<double> q)
    {
        int k = q.Length;
        if (!(y >= 0)) return (0, 0);
        double c = 0;
        for (int j = 0; j < k - 1; j++)
        {
            if (y < c + q[j]) return (j, c);
            c += q[j];
        }
        return (k - 1, c);
    }
}
