using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// The linear-Gaussian model, whose posterior is known exactly: θ ~ N(μ₀, diag σ₀²), x = A·θ + b + ε with
/// ε ~ N(0, diag σₙ²). The posterior is Gaussian with covariance Σ = (Σ₀⁻¹ + AᵀΣₙ⁻¹A)⁻¹ and mean
/// Σ·(Σ₀⁻¹μ₀ + AᵀΣₙ⁻¹(x − b)) (<see cref="ExactPosterior"/>).
/// </summary>
public sealed class LinearGaussianSimulator : ISimulator
{
    private readonly double[] _priorMean, _priorStd, _a, _b, _noiseStd;
    private readonly double[,] _posteriorCovariance;
    private readonly double[,] _gain; // Σ·AᵀΣₙ⁻¹, [d, m]
    private readonly double[] _offset; // Σ·(Σ₀⁻¹μ₀ − AᵀΣₙ⁻¹ b)

    /// <summary>
    /// Creates the model: <paramref name="a"/> is the [m, d] matrix A row-major (m = <paramref name="noiseStd"/>.Length
    /// observations, d = <paramref name="priorMean"/>.Length parameters); <paramref name="b"/> the offset (default 0).
    /// </summary>
    public LinearGaussianSimulator(double[] priorMean, double[] priorStd, double[] a, double[] noiseStd, double[]? b = null)
    {
        ArgumentNullException.ThrowIfNull(priorMean);
        ArgumentNullException.ThrowIfNull(priorStd);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(noiseStd);
        int d = priorMean.Length, m = noiseStd.Length;
        if (d == 0 || m == 0) throw new ArgumentException("the model needs at least one parameter and one observation");
        if (priorStd.Length != d) throw new ArgumentException($"priorStd has {priorStd.Length} entries, priorMean {d}", nameof(priorStd));
        if (a.Length != m * d) throw new ArgumentException($"A must be [{m}, {d}] ({m * d} values), got {a.Length}", nameof(a));
        b ??= new double[m];
        if (b.Length != m) throw new ArgumentException($"b has {b.Length} entries, the observation {m}", nameof(b));
        if (priorStd.Any(s => !(s > 0)) || noiseStd.Any(s => !(s > 0))) throw new ArgumentException("standard deviations must be positive");
        _priorMean = (double[])priorMean.Clone(); _priorStd = (double[])priorStd.Clone();
        _a = (double[])a.Clone(); _b = (double[])b.Clone(); _noiseStd = (double[])noiseStd.Clone();
        ParameterNames = Enumerable.Range(0, d).Select(i => $"theta{i}").ToArray();
        ObservationNames = Enumerable.Range(0, m).Select(i => $"x{i}").ToArray();

        // precision P = Σ₀⁻¹ + AᵀΣₙ⁻¹A
        var p = new double[d, d];
        for (int i = 0; i < d; i++)
        {
            p[i, i] += 1 / (priorStd[i] * priorStd[i]);
            for (int j = 0; j < d; j++)
                for (int k = 0; k < m; k++) p[i, j] += a[k * d + i] * a[k * d + j] / (noiseStd[k] * noiseStd[k]);
        }
        _posteriorCovariance = SmallMatrix.InverseSpd(p);
        _gain = new double[d, m];
        for (int i = 0; i < d; i++)
            for (int k = 0; k < m; k++)
            {
                double s = 0;
                for (int j = 0; j < d; j++) s += _posteriorCovariance[i, j] * a[k * d + j];
                _gain[i, k] = s / (noiseStd[k] * noiseStd[k]);
            }
        _offset = new double[d];
        for (int i = 0; i < d; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) s += _posteriorCovariance[i, j] * priorMean[j] / (priorStd[j] * priorStd[j]);
            for (int k = 0; k < m; k++) s -= _gain[i, k] * _b[k];
            _offset[i] = s;
        }
    }

    /// <summary>The default test problem: 2 parameters with prior N(0, 1), 3 correlated noisy observations.</summary>
    public static LinearGaussianSimulator Default() => new(
        priorMean: [0.0, 0.0], priorStd: [1.0, 1.0],
        a: [1.0, 0.5, -0.3, 1.0, 0.8, 0.8], noiseStd: [0.5, 0.5, 0.7]);

    /// <inheritdoc/>
    public IReadOnlyList<string> ParameterNames { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ObservationNames { get; }

    /// <inheritdoc/>
    public (double[] Theta, double[] X) Sample(int n, Rng rng)
    {
        SimulatorChecks.Count(n);
        ArgumentNullException.ThrowIfNull(rng);
        int d = _priorMean.Length, m = _noiseStd.Length;
        var theta = new double[n * d];
        var x = new double[n * m];
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < d; i++) theta[r * d + i] = _priorMean[i] + _priorStd[i] * rng.NextNormal();
            for (int k = 0; k < m; k++)
            {
                double s = _b[k] + _noiseStd[k] * rng.NextNormal();
                for (int i = 0; i < d; i++) s += _a[k * d + i] * theta[r * d + i];
                x[r * m + k] = s;
            }
        }
        return (theta, x);
    }

    /// <summary>The exact posterior N(mean, covariance) of θ given one observation <paramref name="x"/>.</summary>
    public (double[] Mean, double[,] Covariance) ExactPosterior(ReadOnlySpan<double> x)
    {
        int d = _priorMean.Length, m = _noiseStd.Length;
        if (x.Length != m) throw new ArgumentException($"the observation has {x.Length} values, the model {m}", nameof(x));
        var mean = (double[])_offset.Clone();
        for (int i = 0; i < d; i++)
            for (int k = 0; k < m; k++) mean[i] += _gain[i, k] * x[k];
        return (mean, (double[,])_posteriorCovariance.Clone());
    }
}

/// <summary>Dense linear algebra for the few small matrices of the analytic posteriors.</summary>
internal static class SmallMatrix
{
    /// <summary>Inverse of a symmetric positive-definite matrix through its Cholesky factor.</summary>
    public static double[,] InverseSpd(double[,] a)
    {
        int n = a.GetLength(0);
        var l = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                if (i == j)
                {
                    if (!(s > 0)) throw new ArgumentException("the matrix is not positive definite");
                    l[i, i] = Math.Sqrt(s);
                }
                else l[i, j] = s / l[j, j];
            }
        var inv = new double[n, n];
        var e = new double[n];
        var y = new double[n];
        for (int c = 0; c < n; c++)
        {
            Array.Clear(e); e[c] = 1;
            for (int i = 0; i < n; i++) { double s = e[i]; for (int k = 0; k < i; k++) s -= l[i, k] * y[k]; y[i] = s / l[i, i]; }
            for (int i = n - 1; i >= 0; i--) { double s = y[i]; for (int k = i + 1; k < n; k++) s -= l[k, i] * inv[k, c]; inv[i, c] = s / l[i, i]; }
        }
        return inv;
    }
}
