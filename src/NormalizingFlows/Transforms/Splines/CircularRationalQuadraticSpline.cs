using System.Numerics;

namespace NormalizingFlows.Transforms.Splines;

/// <summary>
/// Circular rational-quadratic spline (Rezende et al. 2020, arXiv:2002.02428, "Normalizing flows on tori and spheres"):
/// a diffeomorphism of the circle [−B, B) (B = π for angles). Every input is first wrapped into [−B, B) (no tails); the
/// monotone rational-quadratic spline of <see cref="RationalQuadraticSpline"/> maps [−B, B] onto itself with the knot
/// derivative at −B equal to the one at +B (so the density is smooth across the seam), then a learnable rotation
/// (circular shift, log|det| 0) is added and the result wrapped again. Parameters per element, 3K + 1: K bin widths,
/// K bin heights, K knot derivatives (knots 0 … K − 1; knot K repeats knot 0), then the shift. Outputs always lie in
/// [−B, B) (as stored in T); no finite input gives NaN. Double and float data run the inner spline's paths.
/// </summary>
public sealed class CircularRationalQuadraticSpline : IElementwiseSpline
{
    private readonly RationalQuadraticSpline _inner;

    /// <summary>A circular spline family with <paramref name="bins"/> bins on [−<paramref name="bound"/>, <paramref name="bound"/>).</summary>
    public CircularRationalQuadraticSpline(int bins, double bound = Math.PI, double minBinWidth = 1e-3, double minBinHeight = 1e-3, double minDerivative = 1e-3)
    {
        if (!(bound > 0) || !double.IsFinite(bound)) throw new ArgumentOutOfRangeException(nameof(bound), bound, "the circle's half-period must be positive and finite");
        _inner = new RationalQuadraticSpline(bins, new SplineDomain(-bound, bound, -bound, bound, false), minBinWidth, minBinHeight, minDerivative);
        Bound = bound;
    }

    /// <summary>Number of bins K.</summary>
    public int Bins => _inner.Bins;

    /// <summary>Half-period B: the circle is [−B, B).</summary>
    public double Bound { get; }

    /// <summary>Smallest bin width, as a fraction of the period.</summary>
    public double MinBinWidth => _inner.MinBinWidth;

    /// <summary>Smallest bin height, as a fraction of the period.</summary>
    public double MinBinHeight => _inner.MinBinHeight;

    /// <summary>Smallest knot derivative.</summary>
    public double MinDerivative => _inner.MinDerivative;

    /// <summary>[−B, B] onto itself (inputs are wrapped into it, so the linear tails are never used).</summary>
    public SplineDomain Domain => _inner.Domain;

    /// <summary>3K + 1: widths, heights, K derivatives, shift.</summary>
    public int ParametersPerElement => 3 * Bins + 1;

    /// <summary>The identity: widths, heights and shift 0, derivatives this value (derivative 1).</summary>
    public double IdentityDerivativeParameter => _inner.IdentityDerivativeParameter;

    /// <summary>Widths and heights 0, the K derivatives at unit slope, shift 0.</summary>
    public double[] IdentityParameters()
    {
        var p = new double[ParametersPerElement];
        for (int j = 2 * Bins; j < 3 * Bins; j++) p[j] = IdentityDerivativeParameter;
        return p;
    }

    /// <summary>v wrapped into [−B, B): v − 2B·⌊(v + B)/2B⌋, and −B where rounding in T lands on +B or above.</summary>
    public T Wrap<T>(double v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double period = 2 * Bound;
        double w = v - period * Math.Floor((v + Bound) / period);
        var t = T.CreateTruncating(w);
        var b = T.CreateTruncating(Bound);
        if (t >= b) t -= T.CreateTruncating(period);
        if (t < -b) t = -b;
        return t;
    }

    /// <inheritdoc/>
    public void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, Span<T> y, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, parameters.Length, y.Length, logAbsDet.Length, "Forward");
        using var work = Prepare(x, parameters, inverse: false);
        _inner.Forward<T>(work.U, work.Inner, y, logAbsDet);
        int m = ParametersPerElement;
        for (int i = 0; i < x.Length; i++) y[i] = Wrap<T>(double.CreateTruncating(y[i]) + double.CreateTruncating(parameters[i * m + m - 1]));
    }

    /// <inheritdoc/>
    public void Inverse<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, Span<T> x, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, parameters.Length, x.Length, logAbsDet.Length, "Inverse");
        using var work = Prepare(y, parameters, inverse: true);
        _inner.Inverse<T>(work.U, work.Inner, x, logAbsDet);
    }

    /// <inheritdoc/>
    public void ForwardBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradY, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradX, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, parameters.Length, gradX.Length, gradLogAbsDet.Length, "ForwardBackward");
        using var work = Prepare(x, parameters, inverse: false);
        // the wraps have derivative 1, the shift enters additively: dy/dshift = 1
        _inner.ForwardBackward<T>(work.U, work.Inner, gradY, gradLogAbsDet, gradX, work.GradInner);
        Fold(work.GradInner, gradY, T.One, gradParameters);
    }

    /// <inheritdoc/>
    public void InverseBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradX, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradY, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, parameters.Length, gradY.Length, gradLogAbsDet.Length, "InverseBackward");
        using var work = Prepare(y, parameters, inverse: true);
        var gu = work.GradU;
        // u = wrap(y − shift): du/dy = 1, du/dshift = −1
        _inner.InverseBackward<T>(work.U, work.Inner, gradX, gradLogAbsDet, gu, work.GradInner);
        for (int i = 0; i < y.Length; i++) gradY[i] += gu[i];
        Fold(work.GradInner, gu, -T.One, gradParameters);
    }

    private void Check(int n, int parameters, int output, int logAbsDet, string what)
    {
        if (parameters != n * ParametersPerElement)
            throw new ArgumentException($"{what}: {parameters} circular spline parameters for {n} elements; expected {ParametersPerElement} per element (3K+1, K = {Bins})");
        if (output != n || logAbsDet != n)
            throw new ArgumentException($"{what}: output lengths {output}, {logAbsDet} differ from input length {n}");
    }

    /// <summary>
    /// The wrapped spline inputs (forward: wrap(x); inverse: wrap(y − shift)) and the inner spline's 3K + 1 parameters
    /// per element (knot K's derivative = knot 0's).
    /// </summary>
    private Workspace<T> Prepare<T>(ReadOnlySpan<T> v, ReadOnlySpan<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = v.Length, m = ParametersPerElement, k = Bins;
        var work = new Workspace<T>(n, m);
        var u = work.U;
        var inner = work.Inner;
        for (int i = 0; i < n; i++)
        {
            var p = parameters.Slice(i * m, m);
            double shift = inverse ? double.CreateTruncating(p[m - 1]) : 0;
            u[i] = Wrap<T>(double.CreateTruncating(v[i]) - shift);
            var q = inner.Slice(i * m, m);
            p.Slice(0, 3 * k).CopyTo(q);
            q[3 * k] = p[2 * k];
        }
        return work;
    }

    /// <summary>
    /// Pooled scratch of one call (wrapped inputs, inner parameters, and for the backward passes their zeroed
    /// gradients), so a training step allocates nothing here; returned to the pool on Dispose.
    /// </summary>
    private readonly ref struct Workspace<T> where T : unmanaged
    {
        private readonly T[] _buffer;
        private readonly int _n, _m;

        public Workspace(int n, int m)
        {
            (_n, _m) = (n, m);
            _buffer = System.Buffers.ArrayPool<T>.Shared.Rent(2 * n * (m + 1));
            _buffer.AsSpan(0, 2 * n * (m + 1)).Clear();
        }

        public Span<T> U => _buffer.AsSpan(0, _n);
        public Span<T> Inner => _buffer.AsSpan(_n, _n * _m);
        public Span<T> GradU => _buffer.AsSpan(_n * (_m + 1), _n);
        public Span<T> GradInner => _buffer.AsSpan(_n * (_m + 2), _n * _m);

        public void Dispose() => System.Buffers.ArrayPool<T>.Shared.Return(_buffer);
    }

    /// <summary>Adds the inner parameters' gradients (knot K's onto knot 0's) and <paramref name="sign"/>·gShift to the shift.</summary>
    private void Fold<T>(ReadOnlySpan<T> gInner, ReadOnlySpan<T> gShift, T sign, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = ParametersPerElement, k = Bins;
        for (int i = 0; i < gShift.Length; i++)
        {
            var g = gInner.Slice(i * m, m);
            var gp = gradParameters.Slice(i * m, m);
            for (int j = 0; j < 3 * k; j++) gp[j] += g[j];
            gp[2 * k] += g[3 * k];
            gp[3 * k] += sign * gShift[i];
        }
    }
}
