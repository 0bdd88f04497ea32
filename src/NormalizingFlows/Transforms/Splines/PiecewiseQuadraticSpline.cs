using System.Numerics;

namespace NormalizingFlows.Transforms.Splines;

/// <summary>
/// Piecewise-quadratic monotone map of [0, 1] onto itself (Müller et al. 2019): the CDF of a piecewise-linear density
/// with K bins of learnable widths W = softmax(w) and K + 1 vertex heights V ∝ exp(v), normalised so the density
/// integrates to 1. Parameters per element: 2K + 1 (K widths, then K + 1 heights). Widths keep a minimum share and
/// the density a minimum height, so the map stays strictly increasing for any parameters. Outside [0, 1] the map
/// continues linearly with the boundary density.
/// </summary>
public sealed class PiecewiseQuadraticSpline : IElementwiseSpline
{
    private readonly double _minWidth, _minDensity;

    /// <summary>Creates a family with <paramref name="bins"/> bins on [0, 1].</summary>
    /// <param name="bins">Number of bins K.</param>
    /// <param name="minBinWidth">Smallest bin width (K·minBinWidth &lt; 1).</param>
    /// <param name="minDensity">Smallest density value (&lt; 1): V = minDensity + (1 − minDensity)·E/A.</param>
    public PiecewiseQuadraticSpline(int bins, double minBinWidth = 1e-4, double minDensity = 1e-4)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), $"need at least one bin, got {bins}");
        if (minBinWidth < 0 || minBinWidth * bins >= 1) throw new ArgumentOutOfRangeException(nameof(minBinWidth), $"minimum bin width {minBinWidth} × {bins} bins must be below 1");
        if (minDensity < 0 || minDensity >= 1) throw new ArgumentOutOfRangeException(nameof(minDensity), $"minimum density {minDensity} must be in [0, 1)");
        Bins = bins;
        _minWidth = minBinWidth;
        _minDensity = minDensity;
    }

    /// <summary>Number of bins K.</summary>
    public int Bins { get; }

    /// <summary>Smallest bin width.</summary>
    public double MinBinWidth => _minWidth;

    /// <summary>Smallest density value.</summary>
    public double MinDensity => _minDensity;

    /// <inheritdoc/>
    public int ParametersPerElement => 2 * Bins + 1;

    /// <inheritdoc/>
    public SplineDomain Domain => SplineDomain.UnitInterval;

    private void Check(int n, int parameters, int output)
    {
        if (parameters != n * ParametersPerElement) throw new ArgumentException($"{parameters} spline parameters for {n} elements; expected {ParametersPerElement} per element (2K+1, K = {Bins})");
        if (output != n) throw new ArgumentException($"output length {output} differs from input length {n}");
    }

    /// <summary>Normalised widths, vertex heights, knots and cumulative areas of one element.</summary>
    private ref struct Grid
    {
        public Span<double> U, S, W, E, V, X, C;
        public double Area;
    }

    private Grid Load<T>(ReadOnlySpan<T> p, Span<double> scratch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = Bins;
        var g = new Grid
        {
            U = scratch.Slice(0, 2 * k + 1), W = scratch.Slice(2 * k + 1, k), E = scratch.Slice(3 * k + 1, k + 1),
            V = scratch.Slice(4 * k + 2, k + 1), X = scratch.Slice(5 * k + 3, k + 1), C = scratch.Slice(6 * k + 4, k + 1),
            S = scratch.Slice(7 * k + 5, k),
        };
        for (int j = 0; j < g.U.Length; j++) g.U[j] = double.CreateTruncating(p[j]);
        SplineMath.Softmax(g.U.Slice(0, k), g.S);
        for (int j = 0; j < k; j++) g.W[j] = _minWidth + (1 - k * _minWidth) * g.S[j];
        var hv = g.U.Slice(k, k + 1);
        double m = double.NegativeInfinity;
        foreach (var v in hv) m = Math.Max(m, v);
        if (!double.IsFinite(m)) m = 0;
        for (int j = 0; j <= k; j++) g.E[j] = Math.Exp(hv[j] - m); // shift cancels in the normalisation
        double area = 0;
        for (int j = 0; j < k; j++) area += 0.5 * (g.E[j] + g.E[j + 1]) * g.W[j];
        g.Area = area;
        for (int j = 0; j <= k; j++) g.V[j] = _minDensity + (1 - _minDensity) * g.E[j] / area;
        g.X[0] = 0; g.C[0] = 0;
        for (int j = 0; j < k; j++)
        {
            g.X[j + 1] = g.X[j] + g.W[j];
            g.C[j + 1] = g.C[j] + 0.5 * (g.V[j] + g.V[j + 1]) * g.W[j];
        }
        g.X[k] = 1; g.C[k] = 1;
        return g;
    }

    private int ScratchSize => 8 * Bins + 5;

    /// <summary>Value and density at x (linear tails outside [0, 1]).</summary>
    private (double y, double pdf) Eval(double x, in Grid g)
    {
        int k = Bins;
        if (x < 0) return (g.V[0] * x, g.V[0]);
        if (x > 1) return (1 + g.V[k] * (x - 1), g.V[k]);
        int b = SplineMath.FindBin(g.X, x);
        double d = x - g.X[b], wb = g.W[b], dv = g.V[b + 1] - g.V[b];
        d = Math.Clamp(d, 0, wb);
        return (g.C[b] + d * g.V[b] + d * d / (2 * wb) * dv, g.V[b] + d * dv / wb);
    }

    /// <inheritdoc/>
    public void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, Span<T> y, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, parameters.Length, y.Length);
        int m = ParametersPerElement;
        Span<double> scratch = stackalloc double[ScratchSize];
        for (int i = 0; i < x.Length; i++)
        {
            double xi = double.CreateTruncating(x[i]);
            if (double.IsNaN(xi)) { y[i] = T.NaN; logAbsDet[i] = T.NaN; continue; }
            var g = Load(parameters.Slice(i * m, m), scratch);
            var (yi, pdf) = Eval(xi, g);
            y[i] = T.CreateTruncating(yi);
            logAbsDet[i] = T.CreateTruncating(Math.Log(pdf));
        }
    }

    /// <inheritdoc/>
    public void Inverse<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, Span<T> x, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, parameters.Length, x.Length);
        int m = ParametersPerElement;
        Span<double> scratch = stackalloc double[ScratchSize];
        for (int i = 0; i < y.Length; i++)
        {
            double yi = double.CreateTruncating(y[i]);
            if (double.IsNaN(yi)) { x[i] = T.NaN; logAbsDet[i] = T.NaN; continue; }
            var g = Load(parameters.Slice(i * m, m), scratch);
            double xi = InverseValue(yi, g);
            var (_, pdf) = Eval(xi, g);
            x[i] = T.CreateTruncating(xi);
            logAbsDet[i] = T.CreateTruncating(-Math.Log(pdf));
        }
    }

    private double InverseValue(double y, in Grid g)
    {
        int k = Bins;
        if (y < 0) return y / g.V[0];
        if (y > 1) return 1 + (y - 1) / g.V[k];
        int b = SplineMath.FindBin(g.C, y);
        double wb = g.W[b], vb = g.V[b], dv = g.V[b + 1] - g.V[b];
        double r = y - g.C[b];
        // (dv / 2wb)·d² + vb·d − r = 0, stable root d = 2r / (vb + √(vb² + 2·dv·r/wb))
        double disc = Math.Max(vb * vb + 2 * dv * r / wb, 0);
        double d = 2 * r / (vb + Math.Sqrt(disc));
        return g.X[b] + Math.Clamp(d, 0, wb);
    }

    /// <summary>
    /// Adds the gradients of gy·y(x) + gl·log pdf(x) with respect to x (returned) and to the normalised grid
    /// (gW, gV: K and K + 1 entries).
    /// </summary>
    private double LocalBackward(double x, in Grid g, double gy, double gl, Span<double> gW, Span<double> gV)
    {
        int k = Bins;
        if (x < 0 || x > 1)
        {
            int j = x < 0 ? 0 : k;
            double dx = x < 0 ? x : x - 1;
            gV[j] += gy * dx + gl / g.V[j];
            return gy * g.V[j];
        }
        int b = SplineMath.FindBin(g.X, x);
        double wb = g.W[b], vb = g.V[b], vb1 = g.V[b + 1], dv = vb1 - vb;
        double d = x - g.X[b];
        bool clamped = d < 0 || d > wb;
        d = Math.Clamp(d, 0, wb);
        double pdf = vb + d * dv / wb;
        // y = C_b + d·V_b + d²/(2W_b)·ΔV,  pdf = V_b + d·ΔV/W_b,  d = x − X_b
        double gPdf = gl / pdf;
        double gD = clamped ? 0 : gy * pdf + gPdf * dv / wb;
        gV[b] += gy * (d - d * d / (2 * wb)) + gPdf * (1 - d / wb);
        gV[b + 1] += gy * d * d / (2 * wb) + gPdf * d / wb;
        gW[b] += -gy * d * d * dv / (2 * wb * wb) - gPdf * d * dv / (wb * wb);
        // C_b = Σ_{j<b} (V_j + V_{j+1})·W_j/2 ; X_b = Σ_{j<b} W_j (d depends on X_b with −1)
        for (int j = 0; j < b; j++)
        {
            gW[j] += gy * 0.5 * (g.V[j] + g.V[j + 1]) - gD;
            gV[j] += gy * 0.5 * g.W[j];
            gV[j + 1] += gy * 0.5 * g.W[j];
        }
        return gD;
    }

    /// <summary>Chains normalised-grid gradients to the unnormalised parameters (softmax widths, exp-normalised heights).</summary>
    private void Scatter<T>(in Grid g, Span<double> gW, ReadOnlySpan<double> gV, Span<double> gu, Span<T> gp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = Bins;
        // V_j = m + (1 − m)·E_j / A, A = Σ_j (E_j + E_{j+1})·W_j/2 (scale-free in E, so the max-shift is harmless)
        double f = 1 - _minDensity;
        double gA = 0;
        for (int j = 0; j <= k; j++) gA -= f * gV[j] * g.E[j] / (g.Area * g.Area);
        gu.Clear();
        for (int j = 0; j <= k; j++)
        {
            double dAdE = 0.5 * ((j > 0 ? g.W[j - 1] : 0) + (j < k ? g.W[j] : 0));
            double gE = f * gV[j] / g.Area + gA * dAdE;
            gu[k + j] = gE * g.E[j]; // E = exp(v − shift): dE/dv = E
        }
        // W_j = m_w + (1 − K·m_w)·softmax_j
        for (int j = 0; j < k; j++) gW[j] = (gW[j] + gA * 0.5 * (g.E[j] + g.E[j + 1])) * (1 - k * _minWidth);
        SplineMath.SoftmaxBackward(g.S, gW, gu.Slice(0, k));
        for (int j = 0; j < gu.Length; j++) gp[j] += T.CreateTruncating(gu[j]);
    }

    /// <inheritdoc/>
    public void ForwardBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradY, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradX, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, parameters.Length, gradX.Length);
        int m = ParametersPerElement, k = Bins;
        Span<double> scratch = stackalloc double[ScratchSize];
        Span<double> gW = stackalloc double[k], gV = stackalloc double[k + 1], gu = stackalloc double[m];
        for (int i = 0; i < x.Length; i++)
        {
            double xi = double.CreateTruncating(x[i]);
            if (double.IsNaN(xi)) { gradX[i] = T.NaN; continue; }
            var g = Load(parameters.Slice(i * m, m), scratch);
            gW.Clear(); gV.Clear();
            double gx = LocalBackward(xi, g, double.CreateTruncating(gradY[i]), double.CreateTruncating(gradLogAbsDet[i]), gW, gV);
            gradX[i] += T.CreateTruncating(gx);
            Scatter(g, gW, gV, gu, gradParameters.Slice(i * m, m));
        }
    }

    /// <inheritdoc/>
    public void InverseBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradX, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradY, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, parameters.Length, gradY.Length);
        int m = ParametersPerElement, k = Bins;
        Span<double> scratch = stackalloc double[ScratchSize];
        Span<double> gW = stackalloc double[k], gV = stackalloc double[k + 1], gu = stackalloc double[m];
        for (int i = 0; i < y.Length; i++)
        {
            double yi = double.CreateTruncating(y[i]);
            if (double.IsNaN(yi)) { gradY[i] = T.NaN; continue; }
            var g = Load(parameters.Slice(i * m, m), scratch);
            double xi = InverseValue(yi, g);
            var (_, pdf) = Eval(xi, g);
            double gx = double.CreateTruncating(gradX[i]), gl = double.CreateTruncating(gradLogAbsDet[i]);
            // implicit differentiation: q = (gx − gl·∂log pdf/∂x)/pdf; θ-gradient = backward(gy = −q, gl = −gl)
            gW.Clear(); gV.Clear();
            double lx = LocalBackward(xi, g, 0, 1, gW, gV);
            double q = (gx - gl * lx) / pdf;
            gW.Clear(); gV.Clear();
            LocalBackward(xi, g, -q, -gl, gW, gV);
            gradY[i] += T.CreateTruncating(q);
            Scatter(g, gW, gV, gu, gradParameters.Slice(i * m, m));
        }
    }
}
