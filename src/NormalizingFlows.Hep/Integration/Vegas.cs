namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// VEGAS (Lepage 1978; vegas 4, Lepage 2021): a separable importance-sampling map x(y) of [0, 1]^d built from a
/// per-dimension grid of N bins 0 = x₀ &lt; … &lt; x_N = 1. A uniform y falls in bin i = ⌊yN⌋ and maps linearly into
/// [xᵢ, xᵢ₊₁], so q(x) = Πⱼ 1/(N Δx_{j,i}) and the Jacobian J = 1/q. After each iteration the grid is refined:
/// per dimension dᵢ = Σ_{x in bin i} (J f)², smoothed with (dᵢ₋₁ + 6dᵢ + dᵢ₊₁)/8, normalised to rᵢ = dᵢ/Σd, damped to
/// ((1 − rᵢ)/ln(1/rᵢ))^α, and the new edges are placed so that every new bin holds an equal share of the damped
/// weights (linear interpolation inside the old bins). Iterations are combined by inverse variance with χ²/dof.
/// Strong for factorisable integrands, weak for peaks off the diagonal of the grid (camel in d ≥ 4 makes 2^d ghost
/// peaks) and for non-axis-aligned structure (circles, annuli). No stratification (vegas+'s adaptive stratified
/// sampling is not implemented).
/// </summary>
public sealed class Vegas : ImportanceSamplingIntegrator
{
    private readonly double[] _edges; // [d, N + 1]
    private readonly double[] _accum; // [d, N]
    private readonly int _bins;
    private bool _adapting;

    /// <summary>Creates the integrator with a uniform grid.</summary>
    public Vegas(IIntegrand integrand, VegasOptions? options = null, long seed = 0) : base(integrand, seed)
    {
        Options = options ?? new VegasOptions();
        Options.Validate();
        _bins = Options.Bins;
        int d = Dimensions;
        _edges = new double[d * (_bins + 1)];
        _accum = new double[d * _bins];
        for (int j = 0; j < d; j++)
            for (int i = 0; i <= _bins; i++) _edges[j * (_bins + 1) + i] = (double)i / _bins;
        _adapting = Options.AdaptDuringIntegration;
    }

    /// <summary>The settings.</summary>
    public VegasOptions Options { get; }

    /// <inheritdoc/>
    public override string Method => "vegas";

    /// <summary>The grid edges of dimension <paramref name="dimension"/> (N + 1 values from 0 to 1, a copy).</summary>
    public double[] GridEdges(int dimension) => _edges.AsSpan(dimension * (_bins + 1), _bins + 1).ToArray();

    /// <summary>Runs <see cref="VegasOptions.TrainIterations"/> iterations of calls/iterations points, refining the grid after each.</summary>
    public override void Train(long calls)
    {
        if (calls <= 0) return;
        int iterations = (int)Math.Min(Options.TrainIterations, Math.Max(1, calls / 2));
        bool saved = _adapting;
        _adapting = true;
        try
        {
            for (int it = 0; it < iterations; it++)
            {
                long n = calls / iterations + (it < calls % iterations ? 1 : 0);
                var w = new double[n];
                RunIteration(w);
                OnIterationEnd();
            }
        }
        finally
        {
            _adapting = saved;
        }
    }

    /// <inheritdoc/>
    public override void Sample(Span<double> x, Span<double> density)
    {
        int d = Dimensions, n = density.Length;
        if (x.Length != n * d) throw new ArgumentException($"x has {x.Length} values for {n} points of {d} dimensions");
        Span<double> y = stackalloc double[d];
        for (int p = 0; p < n; p++)
        {
            for (int j = 0; j < d; j++) y[j] = Rng.NextDouble();
            density[p] = 1 / MapPoint(y, x.Slice(p * d, d));
        }
    }

    /// <summary>
    /// The grid's map x(y) of [0, 1]^d for n points <paramref name="y"/> (row-major n·d) into <paramref name="x"/>, with
    /// log J = log |∂x/∂y| = Σⱼ log(N Δx) into <paramref name="logJacobian"/> (n): q(x) = 1/J. As a flow's first, fixed
    /// layer (VEGAS pretraining) the flow then learns f(x(y)) J(y) on y ∈ [0, 1]^d.
    /// </summary>
    public void Map(ReadOnlySpan<double> y, Span<double> x, Span<double> logJacobian)
    {
        int d = Dimensions, n = logJacobian.Length;
        if (y.Length != n * d) throw new ArgumentException($"y has {y.Length} values for {n} points of {d} dimensions", nameof(y));
        if (x.Length != n * d) throw new ArgumentException($"x has room for {x.Length} values, need {n * d}", nameof(x));
        for (int p = 0; p < n; p++) logJacobian[p] = Math.Log(MapPoint(y.Slice(p * d, d), x.Slice(p * d, d)));
    }

    /// <summary>The inverse map y(x) of <see cref="Map"/> for n points <paramref name="x"/>, with log J = log |∂x/∂y| at them.</summary>
    public void InverseMap(ReadOnlySpan<double> x, Span<double> y, Span<double> logJacobian)
    {
        int d = Dimensions, n = logJacobian.Length, nb = _bins;
        if (x.Length != n * d) throw new ArgumentException($"x has {x.Length} values for {n} points of {d} dimensions", nameof(x));
        if (y.Length != n * d) throw new ArgumentException($"y has room for {y.Length} values, need {n * d}", nameof(y));
        for (int p = 0; p < n; p++)
        {
            double logJ = 0;
            for (int j = 0; j < d; j++)
            {
                var edges = _edges.AsSpan(j * (nb + 1), nb + 1);
                double v = Math.Clamp(x[p * d + j], 0.0, 1.0);
                int i = BinOf(edges, v);
                if (i >= nb) i = nb - 1;
                double lo = edges[i], width = edges[i + 1] - lo;
                y[p * d + j] = width > 0 ? Math.Min(1.0, (i + (v - lo) / width) / nb) : (double)i / nb;
                logJ += Math.Log(nb * width);
            }
            logJacobian[p] = logJ;
        }
    }

    /// <summary>x(y) of one point and its Jacobian Πⱼ N Δx.</summary>
    private double MapPoint(ReadOnlySpan<double> y, Span<double> x)
    {
        int nb = _bins;
        double jac = 1;
        for (int j = 0; j < y.Length; j++)
        {
            double ys = y[j] * nb;
            int i = Math.Min((int)ys, nb - 1);
            double lo = _edges[j * (nb + 1) + i], width = _edges[j * (nb + 1) + i + 1] - lo;
            x[j] = Math.Min(1.0, lo + width * (ys - i));
            jac *= nb * width;
        }
        return jac;
    }

    /// <inheritdoc/>
    protected override void OnBatch(ReadOnlySpan<double> x, ReadOnlySpan<double> values, ReadOnlySpan<double> density)
    {
        if (!_adapting) return;
        int d = Dimensions, nb = _bins;
        for (int p = 0; p < density.Length; p++)
        {
            if (values[p] == 0) continue;
            double w = values[p] / density[p], w2 = w * w;
            for (int j = 0; j < d; j++)
            {
                var edges = _edges.AsSpan(j * (nb + 1), nb + 1);
                _accum[j * nb + BinOf(edges, x[p * d + j])] += w2;
            }
        }
    }

    /// <inheritdoc/>
    protected override void OnIterationEnd()
    {
        if (!_adapting) return;
        int nb = _bins;
        var r = new double[nb];
        var smooth = new double[nb];
        for (int j = 0; j < Dimensions; j++)
        {
            var acc = _accum.AsSpan(j * nb, nb);
            double total = 0;
            foreach (double v in acc) total += v;
            if (total > 0 && Options.Alpha > 0)
            {
                smooth[0] = (7 * acc[0] + acc[1]) / 8;
                for (int i = 1; i < nb - 1; i++) smooth[i] = (acc[i - 1] + 6 * acc[i] + acc[i + 1]) / 8;
                smooth[nb - 1] = (acc[nb - 2] + 7 * acc[nb - 1]) / 8;
                double sum = 0;
                foreach (double v in smooth) sum += v;
                double rsum = 0;
                for (int i = 0; i < nb; i++)
                {
                    double ri = smooth[i] / sum;
                    r[i] = ri <= 0 ? 0 : ri >= 1 - 1e-12 ? 1 : Math.Pow((1 - ri) / Math.Log(1 / ri), Options.Alpha);
                    rsum += r[i];
                }
                if (rsum > 0) Rebin(_edges.AsSpan(j * (nb + 1), nb + 1), r, rsum);
            }
            acc.Clear();
        }
    }

    /// <summary>Moves the edges so that each new bin holds rsum/N of the weights r (spread uniformly inside each old bin).</summary>
    private static void Rebin(Span<double> edges, double[] r, double rsum)
    {
        int nb = r.Length;
        var old = edges.ToArray();
        double target = rsum / nb, acc = 0;
        int k = -1;
        for (int i = 1; i < nb; i++)
        {
            while (acc < target && k < nb - 1) acc += r[++k];
            if (acc < target) { acc = target; } // rounding at the top end
            acc -= target;
            double xo = old[k], xn = old[k + 1];
            edges[i] = r[k] > 0 ? xn - (xn - xo) * acc / r[k] : xn;
        }
        edges[0] = 0;
        edges[nb] = 1;
        for (int i = 1; i <= nb; i++) if (edges[i] < edges[i - 1]) edges[i] = edges[i - 1];
    }

    private static int BinOf(ReadOnlySpan<double> edges, double x)
    {
        int lo = 0, hi = edges.Length - 2;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (edges[mid] <= x) lo = mid; else hi = mid - 1;
        }
        return lo;
    }
}
