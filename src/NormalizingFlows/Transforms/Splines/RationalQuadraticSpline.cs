using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormalizingFlows.Transforms.Splines;

/// <summary>
/// Monotone rational-quadratic spline (Durkan et al. 2019, arXiv:1906.04032) as pure functions on spans, with
/// analytic gradients. Each element has its own spline, given by unnormalised parameters laid out contiguously:
/// K bin widths, K bin heights (softmax-normalised with a minimum share), then the knot derivatives
/// (minimum + softplus): K − 1 inner ones with identity tails, K + 1 otherwise (<see cref="ParametersPerElement"/>).
/// Outside the domain the map continues linearly (identity for identity tails), so no input gives NaN.
/// Double data is computed element by element in double (the reference); float data, where AVX2 + FMA are available,
/// by the vectorised float path (RationalQuadraticSpline.Float.cs), else like double.
/// </summary>
public sealed partial class RationalQuadraticSpline : IElementwiseSpline
{
    private readonly double _minWidth, _minHeight, _minDerivative;

    /// <summary>Creates a spline family with <paramref name="bins"/> bins on <paramref name="domain"/>.</summary>
    public RationalQuadraticSpline(int bins, SplineDomain domain, double minBinWidth = 1e-3, double minBinHeight = 1e-3, double minDerivative = 1e-3)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), $"need at least one bin, got {bins}");
        domain.Validate();
        if (minBinWidth < 0 || minBinWidth * bins >= 1) throw new ArgumentOutOfRangeException(nameof(minBinWidth), $"minimum bin width {minBinWidth} × {bins} bins must be below 1");
        if (minBinHeight < 0 || minBinHeight * bins >= 1) throw new ArgumentOutOfRangeException(nameof(minBinHeight), $"minimum bin height {minBinHeight} × {bins} bins must be below 1");
        if (!(minDerivative > 0)) throw new ArgumentOutOfRangeException(nameof(minDerivative), "minimum derivative must be positive");
        Bins = bins;
        Domain = domain;
        _minWidth = minBinWidth;
        _minHeight = minBinHeight;
        _minDerivative = minDerivative;
    }

    /// <summary>Number of bins K.</summary>
    public int Bins { get; }

    /// <summary>The interval mapping and tail convention.</summary>
    public SplineDomain Domain { get; }

    /// <summary>Smallest bin width, as a fraction of the interval.</summary>
    public double MinBinWidth => _minWidth;

    /// <summary>Smallest bin height, as a fraction of the interval.</summary>
    public double MinBinHeight => _minHeight;

    /// <summary>Smallest knot derivative.</summary>
    public double MinDerivative => _minDerivative;

    /// <summary>Unnormalised parameters per element: 3K − 1 with identity tails, 3K + 1 otherwise.</summary>
    public int ParametersPerElement => Domain.IdentityTails ? 3 * Bins - 1 : 3 * Bins + 1;

    /// <summary>
    /// Unnormalised derivative value that yields derivative 1 (with the minimum added back), for initialising a
    /// spline to the identity: all widths and heights 0 (equal bins), all derivatives this value.
    /// </summary>
    public double IdentityDerivativeParameter => Math.Log(double.ExpM1(1 - _minDerivative));

    /// <summary>Widths and heights 0 (equal bins), derivatives <see cref="IdentityDerivativeParameter"/> (unit slope).</summary>
    public double[] IdentityParameters()
    {
        var p = new double[ParametersPerElement];
        for (int j = 2 * Bins; j < p.Length; j++) p[j] = IdentityDerivativeParameter;
        return p;
    }

    private void Check<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> parameters, int outLength, string what)
    {
        if (parameters.Length != input.Length * ParametersPerElement)
            throw new ArgumentException($"{what}: {parameters.Length} spline parameters for {input.Length} elements; expected {ParametersPerElement} per element ({(Domain.IdentityTails ? "3K−1" : "3K+1")}, K = {Bins})");
        if (outLength != input.Length)
            throw new ArgumentException($"{what}: output length {outLength} differs from input length {input.Length}");
    }

    // ------------------------------------------------------------------------------------------ public API

    /// <summary>y = s(x) and log|ds/dx| for every element.</summary>
    public void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, Span<T> y, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, parameters, y.Length, "Forward");
        if (logAbsDet.Length != x.Length) throw new ArgumentException("Forward: logAbsDet length differs from input length");
        if (typeof(T) == typeof(float) && UseFloatPath)
        {
            RunFloat(FloatOp.Forward, MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(parameters), default, default,
                MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(logAbsDet), default);
            return;
        }
        var ws = new Workspace(stackalloc double[WorkspaceSize]);
        int m = ParametersPerElement;
        for (int i = 0; i < x.Length; i++)
        {
            double xi = double.CreateTruncating(x[i]);
            var (yi, ld) = ForwardElement(xi, parameters.Slice(i * m, m), ws);
            y[i] = T.CreateTruncating(yi);
            logAbsDet[i] = T.CreateTruncating(ld);
        }
    }

    /// <summary>x = s⁻¹(y) and log|dx/dy| (= −log|ds/dx| at x) for every element.</summary>
    public void Inverse<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, Span<T> x, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y, parameters, x.Length, "Inverse");
        if (logAbsDet.Length != y.Length) throw new ArgumentException("Inverse: logAbsDet length differs from input length");
        if (typeof(T) == typeof(float) && UseFloatPath)
        {
            RunFloat(FloatOp.Inverse, MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(parameters), default, default,
                MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(logAbsDet), default);
            return;
        }
        var ws = new Workspace(stackalloc double[WorkspaceSize]);
        int m = ParametersPerElement;
        for (int i = 0; i < y.Length; i++)
        {
            var (xi, ld) = InverseElement(double.CreateTruncating(y[i]), parameters.Slice(i * m, m), ws);
            x[i] = T.CreateTruncating(xi);
            logAbsDet[i] = T.CreateTruncating(ld);
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: given dL/dy and dL/dlogAbsDet, ADDS dL/dx into <paramref name="gradX"/> and
    /// dL/dparameters into <paramref name="gradParameters"/>.
    /// </summary>
    public void ForwardBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradY, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradX, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x, parameters, gradX.Length, "ForwardBackward");
        if (gradParameters.Length != parameters.Length || gradY.Length != x.Length || gradLogAbsDet.Length != x.Length)
            throw new ArgumentException("ForwardBackward: gradient spans must match the inputs' lengths");
        if (typeof(T) == typeof(float) && UseFloatPath)
        {
            RunFloat(FloatOp.ForwardBackward, MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(parameters),
                MemoryMarshal.Cast<T, float>(gradY), MemoryMarshal.Cast<T, float>(gradLogAbsDet),
                MemoryMarshal.Cast<T, float>(gradX), default, MemoryMarshal.Cast<T, float>(gradParameters));
            return;
        }
        var ws = new Workspace(stackalloc double[WorkspaceSize]);
        int m = ParametersPerElement;
        for (int i = 0; i < x.Length; i++)
        {
            double gx = ForwardElementBackward(double.CreateTruncating(x[i]), parameters.Slice(i * m, m),
                double.CreateTruncating(gradY[i]), double.CreateTruncating(gradLogAbsDet[i]), gradParameters.Slice(i * m, m), ws);
            gradX[i] += T.CreateTruncating(gx);
        }
    }

    /// <summary>
    /// Backward of <see cref="Inverse"/>: given dL/dx and dL/dlogAbsDet of the inverse, ADDS dL/dy into
    /// <paramref name="gradY"/> and dL/dparameters into <paramref name="gradParameters"/> (implicit differentiation).
    /// </summary>
    public void InverseBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradX, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradY, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y, parameters, gradY.Length, "InverseBackward");
        if (gradParameters.Length != parameters.Length || gradX.Length != y.Length || gradLogAbsDet.Length != y.Length)
            throw new ArgumentException("InverseBackward: gradient spans must match the inputs' lengths");
        if (typeof(T) == typeof(float) && UseFloatPath)
        {
            RunFloat(FloatOp.InverseBackward, MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(parameters),
                MemoryMarshal.Cast<T, float>(gradX), MemoryMarshal.Cast<T, float>(gradLogAbsDet),
                MemoryMarshal.Cast<T, float>(gradY), default, MemoryMarshal.Cast<T, float>(gradParameters));
            return;
        }
        var ws = new Workspace(stackalloc double[WorkspaceSize]);
        int m = ParametersPerElement;
        for (int i = 0; i < y.Length; i++)
        {
            double gy = InverseElementBackward(double.CreateTruncating(y[i]), parameters.Slice(i * m, m),
                double.CreateTruncating(gradX[i]), double.CreateTruncating(gradLogAbsDet[i]), gradParameters.Slice(i * m, m), ws);
            gradY[i] += T.CreateTruncating(gy);
        }
    }

    // ------------------------------------------------------------------------------------------ per element

    private int WorkspaceSize => 5 * (Bins + 1) + 3 * Bins + 2;

    /// <summary>Scratch for one element: knots, derivatives, softmax shares, parameters in double.</summary>
    private readonly ref struct Workspace
    {
        public readonly Span<double> All;
        public Workspace(Span<double> all) => All = all;
    }

    private void Knots<T>(ReadOnlySpan<T> p, Workspace ws, out Span<double> cw, out Span<double> ch, out Span<double> d,
        out Span<double> smw, out Span<double> smh, out Span<double> up) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = Bins;
        var all = ws.All;
        cw = all.Slice(0, k + 1);
        ch = all.Slice(k + 1, k + 1);
        d = all.Slice(2 * (k + 1), k + 1);
        smw = all.Slice(3 * (k + 1), k);
        smh = all.Slice(3 * (k + 1) + k, k);
        up = all.Slice(3 * (k + 1) + 2 * k, p.Length);
        for (int j = 0; j < p.Length; j++) up[j] = double.CreateTruncating(p[j]);
        var dom = Domain;
        SplineMath.Softmax(up.Slice(0, k), smw);
        SplineMath.Softmax(up.Slice(k, k), smh);
        double sw = (dom.Right - dom.Left) * (1 - _minWidth * k), mw = (dom.Right - dom.Left) * _minWidth;
        double sh = (dom.Top - dom.Bottom) * (1 - _minHeight * k), mh = (dom.Top - dom.Bottom) * _minHeight;
        cw[0] = dom.Left; ch[0] = dom.Bottom;
        for (int j = 0; j < k; j++)
        {
            cw[j + 1] = cw[j] + mw + sw * smw[j];
            ch[j + 1] = ch[j] + mh + sh * smh[j];
        }
        cw[k] = dom.Right; ch[k] = dom.Top;
        if (dom.IdentityTails)
        {
            d[0] = 1; d[k] = 1;
            for (int j = 1; j < k; j++) d[j] = _minDerivative + SplineMath.Softplus(up[2 * k + j - 1]);
        }
        else
            for (int j = 0; j <= k; j++) d[j] = _minDerivative + SplineMath.Softplus(up[2 * k + j]);
    }

    private (double y, double logDet) ForwardElement<T>(double x, ReadOnlySpan<T> p, Workspace ws) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dom = Domain;
        if (double.IsNaN(x)) return (double.NaN, double.NaN);
        if (dom.IdentityTails && (x < dom.Left || x > dom.Right)) return (x, 0);
        Knots(p, ws, out var cw, out var ch, out var d, out _, out _, out _);
        if (x < dom.Left) return (dom.Bottom + d[0] * (x - dom.Left), Math.Log(d[0]));
        if (x > dom.Right) return (dom.Top + d[Bins] * (x - dom.Right), Math.Log(d[Bins]));
        int b = SplineMath.FindBin(cw, x);
        return Local(x, cw[b], cw[b + 1] - cw[b], ch[b], ch[b + 1] - ch[b], d[b], d[b + 1]);
    }

    private (double x, double logDet) InverseElement<T>(double y, ReadOnlySpan<T> p, Workspace ws) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dom = Domain;
        if (double.IsNaN(y)) return (double.NaN, double.NaN);
        if (dom.IdentityTails && (y < dom.Bottom || y > dom.Top)) return (y, 0);
        Knots(p, ws, out var cw, out var ch, out var d, out _, out _, out _);
        if (y < dom.Bottom) return (dom.Left + (y - dom.Bottom) / d[0], -Math.Log(d[0]));
        if (y > dom.Top) return (dom.Right + (y - dom.Top) / d[Bins], -Math.Log(d[Bins]));
        int b = SplineMath.FindBin(ch, y);
        double xk = cw[b], wk = cw[b + 1] - cw[b];
        double xi = LocalInverseXi(y, wk, ch[b], ch[b + 1] - ch[b], d[b], d[b + 1]);
        double x = xk + xi * wk;
        var (_, ld) = Local(x, xk, wk, ch[b], ch[b + 1] - ch[b], d[b], d[b + 1]);
        return (x, -ld);
    }

    private double ForwardElementBackward<T>(double x, ReadOnlySpan<T> p, double gy, double gl, Span<T> gp, Workspace ws) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dom = Domain;
        if (double.IsNaN(x)) return double.NaN;
        if (dom.IdentityTails && (x < dom.Left || x > dom.Right)) return gy;
        Knots(p, ws, out var cw, out var ch, out var d, out var smw, out var smh, out var up);
        int k = Bins;
        if (x < dom.Left || x > dom.Right)
        {
            int j = x < dom.Left ? 0 : k;
            double edge = x < dom.Left ? dom.Left : dom.Right;
            double gd = gy * (x - edge) + gl / d[j];
            AddDerivativeGrad(j, gd, up, gp);
            return gy * d[j];
        }
        int b = SplineMath.FindBin(cw, x);
        var g = LocalBackward(x, cw[b], cw[b + 1] - cw[b], ch[b], ch[b + 1] - ch[b], d[b], d[b + 1], gy, gl);
        ChainToParameters(b, g, smw, smh, up, gp);
        return g.X;
    }

    private double InverseElementBackward<T>(double y, ReadOnlySpan<T> p, double gx, double gl, Span<T> gp, Workspace ws) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dom = Domain;
        if (double.IsNaN(y)) return double.NaN;
        if (dom.IdentityTails && (y < dom.Bottom || y > dom.Top)) return gx;
        Knots(p, ws, out var cw, out var ch, out var d, out var smw, out var smh, out var up);
        int k = Bins;
        if (y < dom.Bottom || y > dom.Top)
        {
            // x = edgeX + (y − edgeY)/d, logdet = −ln d
            int j = y < dom.Bottom ? 0 : k;
            double edgeY = y < dom.Bottom ? dom.Bottom : dom.Top;
            double gd = -gx * (y - edgeY) / (d[j] * d[j]) - gl / d[j];
            AddDerivativeGrad(j, gd, up, gp);
            return gx / d[j];
        }
        int b = SplineMath.FindBin(ch, y);
        double xk = cw[b], wk = cw[b + 1] - cw[b], yk = ch[b], hk = ch[b + 1] - ch[b], dk = d[b], dk1 = d[b + 1];
        double xi = LocalInverseXi(y, wk, yk, hk, dk, dk1);
        double x = xk + xi * wk;
        var (_, lfwd) = Local(x, xk, wk, yk, hk, dk, dk1);
        double fx = Math.Exp(lfwd);
        // L = log f'(x; θ); x = f⁻¹(y; θ); outputs x and −L.  q = (gx − gl·∂L/∂x) / f'
        double lx = LocalBackward(x, xk, wk, yk, hk, dk, dk1, 0, 1).X;
        double q = (gx - gl * lx) / fx;
        var g = LocalBackward(x, xk, wk, yk, hk, dk, dk1, -q, -gl);
        ChainToParameters(b, g, smw, smh, up, gp);
        return q;
    }

    // ------------------------------------------------------------------------------------------ bin-local maths

    /// <summary>Spline value and log-derivative inside bin [xk, xk + wk] → [yk, yk + hk] with end derivatives dk, dk1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (double y, double logDet) Local(double x, double xk, double wk, double yk, double hk, double dk, double dk1)
    {
        double xi = Math.Clamp((x - xk) / wk, 0, 1);
        double s = hk / wk;
        double t = xi * (1 - xi);
        double den = s + (dk1 + dk - 2 * s) * t;
        double num = hk * (s * xi * xi + dk * t);
        double pp = dk1 * xi * xi + 2 * s * t + dk * (1 - xi) * (1 - xi);
        return (yk + num / den, 2 * Math.Log(s) + Math.Log(pp) - 2 * Math.Log(den));
    }

    /// <summary>Position ξ ∈ [0, 1] inside the bin whose image contains y (root of the bin's quadratic, stable form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double LocalInverseXi(double y, double wk, double yk, double hk, double dk, double dk1)
    {
        double s = hk / wk;
        double dy = y - yk;
        double c2 = dk1 + dk - 2 * s;
        double a = hk * (s - dk) + dy * c2;
        double b = hk * dk - dy * c2;
        double c = -s * dy;
        double disc = Math.Max(b * b - 4 * a * c, 0);
        double denom = -b - Math.Sqrt(disc);
        double xi = denom == 0 ? 0 : 2 * c / denom;
        return Math.Clamp(xi, 0, 1);
    }

    private readonly record struct LocalGrad(double X, double Xk, double Wk, double Yk, double Hk, double Dk, double Dk1);

    /// <summary>Reverse-mode derivatives of (y, logDet) of <see cref="Local"/> for upstream gradients (gy, gl).</summary>
    private static LocalGrad LocalBackward(double x, double xk, double wk, double yk, double hk, double dk, double dk1, double gy, double gl)
    {
        double xi = (x - xk) / wk;
        bool clamped = xi < 0 || xi > 1;
        xi = Math.Clamp(xi, 0, 1);
        double s = hk / wk;
        double t = xi - xi * xi;
        double c = dk1 + dk - 2 * s;
        double den = s + c * t;
        double a = s * xi * xi + dk * t;
        double num = hk * a;
        double omx = 1 - xi;
        double pp = dk1 * xi * xi + 2 * s * t + dk * omx * omx;

        double gNum = gy / den;
        double gDen = -gy * num / (den * den) - 2 * gl / den;
        double gP = gl / pp;
        double gS = 2 * gl / s;
        double gDk1 = gP * xi * xi;
        gS += gP * 2 * t;
        double gT = gP * 2 * s;
        double gDk = gP * omx * omx;
        double gXi = gP * (2 * dk1 * xi - 2 * dk * omx);
        double gHk = gNum * a;
        double gA = gNum * hk;
        gS += gA * xi * xi;
        gXi += gA * 2 * s * xi;
        gDk += gA * t;
        gT += gA * dk;
        gS += gDen;
        double gC = gDen * t;
        gT += gDen * c;
        gDk1 += gC;
        gDk += gC;
        gS -= 2 * gC;
        gXi += gT * (1 - 2 * xi);
        if (clamped) gXi = 0;
        gHk += gS / wk;
        double gWk = -gS * hk / (wk * wk);
        double gX = gXi / wk;
        double gXk = -gXi / wk;
        gWk += -gXi * xi / wk;
        return new LocalGrad(gX, gXk, gWk, gy, gHk, gDk, gDk1);
    }

    /// <summary>Chains bin-local gradients through the knot cumsums, softmax shares and softplus derivatives.</summary>
    private void ChainToParameters<T>(int b, LocalGrad g, ReadOnlySpan<double> smw, ReadOnlySpan<double> smh, ReadOnlySpan<double> up, Span<T> gp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = Bins;
        var dom = Domain;
        double sw = (dom.Right - dom.Left) * (1 - _minWidth * k);
        double sh = (dom.Top - dom.Bottom) * (1 - _minHeight * k);
        // bin b starts at cumsum of widths j < b (gradient Xk) and has width b (gradient Wk); the last knot is pinned,
        // which in exact arithmetic equals the cumsum, so the same chain rule applies.
        SoftmaxBackward(b, g.Xk * sw, g.Wk * sw, smw, gp.Slice(0, k));
        SoftmaxBackward(b, g.Yk * sh, g.Hk * sh, smh, gp.Slice(k, k));
        AddDerivativeGrad(b, g.Dk, up, gp);
        AddDerivativeGrad(b + 1, g.Dk1, up, gp);
    }

    private static void SoftmaxBackward<T>(int b, double gBefore, double gAt, ReadOnlySpan<double> sm, Span<T> gu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // share gradient: gBefore for j < b, gAt for j = b, 0 after; gu_j = sm_j (g_j − Σ sm_i g_i)
        double dot = gAt * sm[b];
        for (int j = 0; j < b; j++) dot += gBefore * sm[j];
        for (int j = 0; j < sm.Length; j++)
        {
            double gj = j < b ? gBefore : j == b ? gAt : 0;
            gu[j] += T.CreateTruncating(sm[j] * (gj - dot));
        }
    }

    private void AddDerivativeGrad<T>(int knot, double gd, ReadOnlySpan<double> up, Span<T> gp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = Bins;
        int idx;
        if (Domain.IdentityTails)
        {
            if (knot == 0 || knot == k) return; // fixed to 1
            idx = 2 * k + knot - 1;
        }
        else idx = 2 * k + knot;
        gp[idx] += T.CreateTruncating(gd * SplineMath.Sigmoid(up[idx]));
    }
}
