using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// The Fréchet and kernel physics distances of Kansal et al. (arXiv:2211.10295, JetNet's <c>fpd</c> and <c>kpd</c>)
/// between a reference sample and a generated one, on feature columns (<c>columns[j][i]</c> is feature j of event i).
/// <para>
/// FPD: the Fréchet distance of the Gaussians with the samples' means and covariances,
/// ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½), is biased upwards by about c/N at N events; it is measured on batches
/// drawn with replacement at sizes evenly spaced in 1/N, averaged per size, and a straight line in 1/N (intercept and
/// slope ≥ 0) is extrapolated to 1/N = 0; the value is the intercept and the error its standard error. KPD: the
/// unbiased estimate of the squared maximum mean discrepancy with the polynomial kernel (x·y/d + 1)^degree on
/// batches drawn with replacement; the value is the median over batches and the error half the range between the
/// 16.275 and 83.725 percentiles. Both are 0 for identical distributions (KPD may read slightly below 0).
/// </para>
/// </summary>
public static class PhysicsDistance
{
    /// <summary>
    /// The Fréchet distance ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) of two Gaussians, with
    /// Tr (Σ₁Σ₂)^½ = Tr (Σ₁^½ Σ₂ Σ₁^½)^½ from symmetric eigendecompositions (no complex square root needed).
    /// </summary>
    public static double Frechet(double[] mean1, double[,] covariance1, double[] mean2, double[,] covariance2)
    {
        ArgumentNullException.ThrowIfNull(mean1);
        ArgumentNullException.ThrowIfNull(mean2);
        ArgumentNullException.ThrowIfNull(covariance1);
        ArgumentNullException.ThrowIfNull(covariance2);
        int d = mean1.Length;
        if (mean2.Length != d) throw new ArgumentException($"mean2 has {mean2.Length} entries, mean1 {d}", nameof(mean2));
        if (covariance1.GetLength(0) != d || covariance1.GetLength(1) != d) throw new ArgumentException($"covariance1 must be {d}×{d}", nameof(covariance1));
        if (covariance2.GetLength(0) != d || covariance2.GetLength(1) != d) throw new ArgumentException($"covariance2 must be {d}×{d}", nameof(covariance2));
        double result = 0;
        for (int i = 0; i < d; i++) result += (mean1[i] - mean2[i]) * (mean1[i] - mean2[i]) + covariance1[i, i] + covariance2[i, i];
        var root1 = SymmetricEigen.Sqrt(covariance1);
        var m = Multiply(Multiply(root1, covariance2), root1);
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) m[i, j] = m[j, i] = 0.5 * (m[i, j] + m[j, i]); // symmetric up to rounding
        foreach (double lambda in SymmetricEigen.Decompose(m).Values) result -= 2 * Math.Sqrt(Math.Max(lambda, 0));
        return result;
    }

    /// <summary>The Fréchet physics distance of <paramref name="generated"/> from <paramref name="reference"/> and its error (see the class remarks).</summary>
    public static DistanceEstimate Fpd(double[][] reference, double[][] generated, PhysicsDistanceOptions? options = null)
    {
        var (x, y, d, nx, ny) = Prepare(reference, generated, ref options);
        int max = Math.Min(options.FpdMaxSamples, Math.Min(nx, ny));
        int min = max == options.FpdMaxSamples ? options.FpdMinSamples : (int)((long)options.FpdMinSamples * max / options.FpdMaxSamples);
        if (min < 2 || max - min < options.FpdPoints)
            throw new ArgumentException($"FPD needs larger samples: {nx} reference and {ny} generated events leave batches of {min}–{max} events for {options.FpdPoints} sizes");
        var rng = new Rng(options.Seed);
        int points = options.FpdPoints;
        var inverse = new double[points];
        var means = new double[points];
        for (int p = 0; p < points; p++)
        {
            // regular intervals in 1/N, as JetNet (the sizes truncated to integers)
            int size = (int)(1 / (1.0 / min + (1.0 / max - 1.0 / min) * p / (points - 1)));
            inverse[p] = 1.0 / size;
            double sum = 0;
            for (int b = 0; b < options.FpdBatches; b++)
            {
                var (m1, c1) = Moments(x, d, Draw(rng, nx, size));
                var (m2, c2) = Moments(y, d, Draw(rng, ny, size));
                sum += Frechet(m1, c1, m2, c2);
            }
            means[p] = sum / options.FpdBatches;
        }
        var (intercept, error) = NonNegativeLine(inverse, means);
        return new DistanceEstimate(intercept, error);
    }

    /// <summary>The kernel physics distance of <paramref name="generated"/> from <paramref name="reference"/> and its error (see the class remarks).</summary>
    public static DistanceEstimate Kpd(double[][] reference, double[][] generated, PhysicsDistanceOptions? options = null)
    {
        var (x, y, d, nx, ny) = Prepare(reference, generated, ref options);
        int size = Math.Min(options.KpdBatchSize, Math.Min(nx, ny));
        if (size < 2) throw new ArgumentException($"KPD needs at least 2 events in each sample, got {nx} reference and {ny} generated");
        var values = new double[options.KpdBatches];
        for (int b = 0; b < values.Length; b++)
        {
            var rng = new Rng(options.Seed + b * 1000L);
            values[b] = UnbiasedMmd2(Gather(x, d, Draw(rng, nx, size)), Gather(y, d, Draw(rng, ny, size)), d, options.KernelDegree);
        }
        Array.Sort(values);
        return new DistanceEstimate(SortedQuantile.Of(values, 0.5), (SortedQuantile.Of(values, 0.83725) - SortedQuantile.Of(values, 0.16275)) / 2);
    }

    /// <summary>
    /// The unbiased MMD² of two samples (row-major, <paramref name="d"/> features) with the kernel
    /// (x·y/d + 1)^<paramref name="degree"/>: mean k over distinct pairs within each sample minus twice the mean across.
    /// </summary>
    internal static double UnbiasedMmd2(double[] x, double[] y, int d, int degree)
    {
        int m = x.Length / d, n = y.Length / d;
        double kxx = KernelSum(x, x, d, degree, skipDiagonal: true), kyy = KernelSum(y, y, d, degree, skipDiagonal: true), kxy = KernelSum(x, y, d, degree, skipDiagonal: false);
        return kxx / ((double)m * (m - 1)) + kyy / ((double)n * (n - 1)) - 2 * kxy / ((double)m * n);
    }

    private static double KernelSum(double[] a, double[] b, int d, int degree, bool skipDiagonal)
    {
        int na = a.Length / d, nb = b.Length / d;
        double gamma = 1.0 / d;
        var rows = new double[na];
        Parallel.For(0, na, i =>
        {
            var ai = a.AsSpan(i * d, d);
            double s = 0;
            for (int j = 0; j < nb; j++)
            {
                if (skipDiagonal && i == j) continue;
                double dot = 0;
                var bj = b.AsSpan(j * d, d);
                for (int k = 0; k < d; k++) dot += ai[k] * bj[k];
                double u = dot * gamma + 1, p = u;
                for (int e = 1; e < degree; e++) p *= u;
                s += p;
            }
            rows[i] = s;
        });
        double total = 0;
        foreach (double r in rows) total += r; // in row order: the same sum for any thread count
        return total;
    }

    /// <summary>
    /// The options (defaults when null; checked) and the samples as row-major arrays of D features, divided by the
    /// reference's largest absolute value per feature when <see cref="PhysicsDistanceOptions.Normalise"/>, with their event counts.
    /// </summary>
    private static (double[] X, double[] Y, int D, int Nx, int Ny) Prepare(double[][] reference, double[][] generated, [System.Diagnostics.CodeAnalysis.NotNull] ref PhysicsDistanceOptions? options)
    {
        options ??= new PhysicsDistanceOptions();
        options.Validate();
        bool normalise = options.Normalise;
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(generated);
        int d = reference.Length;
        if (d == 0) throw new ArgumentException("no feature columns", nameof(reference));
        if (generated.Length != d) throw new ArgumentException($"generated has {generated.Length} feature columns, reference {d}", nameof(generated));
        var x = Rows(reference, nameof(reference));
        var y = Rows(generated, nameof(generated));
        if (normalise)
            for (int j = 0; j < d; j++)
            {
                double scale = 0;
                foreach (double v in reference[j]) scale = Math.Max(scale, Math.Abs(v));
                if (scale == 0) continue;
                for (int i = j; i < x.Length; i += d) x[i] /= scale;
                for (int i = j; i < y.Length; i += d) y[i] /= scale;
            }
        return (x, y, d, x.Length / d, y.Length / d);
    }

    private static double[] Rows(double[][] columns, string name)
    {
        int d = columns.Length, n = columns[0]?.Length ?? throw new ArgumentNullException(name);
        var rows = new double[n * d];
        for (int j = 0; j < d; j++)
        {
            var c = columns[j] ?? throw new ArgumentNullException(name, $"column {j} is null");
            if (c.Length != n) throw new ArgumentException($"column {j} has {c.Length} events, column 0 {n}", name);
            for (int i = 0; i < n; i++)
            {
                if (!double.IsFinite(c[i])) throw new ArgumentException($"column {j}, event {i} is {c[i]}", name);
                rows[i * d + j] = c[i];
            }
        }
        return rows;
    }

    private static int[] Draw(Rng rng, int n, int size)
    {
        var index = new int[size];
        for (int i = 0; i < size; i++) index[i] = rng.NextInt(n);
        return index;
    }

    private static double[] Gather(double[] rows, int d, int[] index)
    {
        var batch = new double[index.Length * d];
        for (int i = 0; i < index.Length; i++) rows.AsSpan(index[i] * d, d).CopyTo(batch.AsSpan(i * d));
        return batch;
    }

    /// <summary>Mean and unbiased covariance (divisor N − 1) of the rows <paramref name="index"/>.</summary>
    private static (double[] Mean, double[,] Covariance) Moments(double[] rows, int d, int[] index)
    {
        int n = index.Length;
        var mean = new double[d];
        foreach (int i in index)
            for (int k = 0; k < d; k++) mean[k] += rows[i * d + k];
        for (int k = 0; k < d; k++) mean[k] /= n;
        var cov = new double[d, d];
        var centred = new double[d];
        foreach (int i in index)
        {
            for (int k = 0; k < d; k++) centred[k] = rows[i * d + k] - mean[k];
            for (int a = 0; a < d; a++)
                for (int b = a; b < d; b++) cov[a, b] += centred[a] * centred[b];
        }
        for (int a = 0; a < d; a++)
            for (int b = a; b < d; b++) cov[b, a] = cov[a, b] /= n - 1;
        return (mean, cov);
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0);
        var c = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
            {
                double aik = a[i, k];
                for (int j = 0; j < n; j++) c[i, j] += aik * b[k, j];
            }
        return c;
    }

    /// <summary>
    /// Least squares y = a + b·x with a, b ≥ 0 (the bound active when the free fit breaks it), and the standard
    /// error of a from the covariance (JᵀJ)⁻¹·RSS/(M − 2) at the solution, as SciPy's <c>curve_fit</c> reports it.
    /// </summary>
    internal static (double Intercept, double Error) NonNegativeLine(double[] x, double[] y)
    {
        int m = x.Length;
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int i = 0; i < m; i++) { sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i]; }
        double det = m * sxx - sx * sx;
        double b = (m * sxy - sx * sy) / det, a = (sy - b * sx) / m;
        if (a < 0) { a = 0; b = Math.Max(0, sxy / sxx); } // through the origin
        if (b < 0) { b = 0; a = Math.Max(0, sy / m); }    // a constant
        double rss = 0;
        for (int i = 0; i < m; i++) rss += (y[i] - a - b * x[i]) * (y[i] - a - b * x[i]);
        return (a, Math.Sqrt(sxx / det * rss / (m - 2)));
    }
}
