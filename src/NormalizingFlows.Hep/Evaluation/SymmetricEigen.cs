namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// Eigendecomposition of a real symmetric matrix by the cyclic Jacobi method in double precision: plane rotations
/// zero the off-diagonal elements sweep by sweep until their sum of squares is below 10⁻³⁰ of the matrix's (quadratic
/// convergence; a few sweeps for the tens of features it is used on).
/// </summary>
internal static class SymmetricEigen
{
    private const int MaxSweeps = 100;

    /// <summary>
    /// The eigenvalues (ascending) and eigenvectors (column k of <c>Vectors</c> belongs to <c>Values[k]</c>) of the
    /// symmetric matrix <paramref name="matrix"/>, which is not modified; only its upper triangle is read.
    /// </summary>
    public static (double[] Values, double[,] Vectors) Decompose(double[,] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.GetLength(0);
        if (matrix.GetLength(1) != n) throw new ArgumentException($"the matrix is {n}×{matrix.GetLength(1)}, not square", nameof(matrix));
        var a = new double[n, n];
        var v = new double[n, n];
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            v[i, i] = 1;
            for (int j = i; j < n; j++)
            {
                double x = matrix[i, j];
                if (!double.IsFinite(x)) throw new ArgumentException($"element [{i}, {j}] is {x}", nameof(matrix));
                a[i, j] = a[j, i] = x;
                total += (i == j ? 1 : 2) * x * x;
            }
        }
        for (int sweep = 0; sweep < MaxSweeps; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) off += a[p, q] * a[p, q];
            if (off <= 1e-30 * total || off == 0) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[p, q];
                    if (apq == 0) continue;
                    // the rotation angle θ with tan 2θ = 2 a_pq / (a_qq − a_pp); t = tan θ, the smaller root
                    double theta = (a[q, q] - a[p, p]) / (2 * apq);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    a[p, q] = a[q, p] = 0;
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                }
        }
        var order = Enumerable.Range(0, n).OrderBy(i => a[i, i]).ToArray();
        var values = order.Select(i => a[i, i]).ToArray();
        var vectors = new double[n, n];
        for (int k = 0; k < n; k++)
            for (int i = 0; i < n; i++) vectors[i, k] = v[i, order[k]];
        return (values, vectors);
    }

    /// <summary>
    /// The symmetric positive semi-definite square root of the symmetric matrix <paramref name="matrix"/>:
    /// V diag(√max(λ, 0)) Vᵀ (eigenvalues below zero, from rounding, count as zero).
    /// </summary>
    public static double[,] Sqrt(double[,] matrix)
    {
        var (values, vectors) = Decompose(matrix);
        int n = values.Length;
        var root = new double[n, n];
        for (int k = 0; k < n; k++)
        {
            double s = Math.Sqrt(Math.Max(values[k], 0));
            if (s == 0) continue;
            for (int i = 0; i < n; i++)
            {
                double vi = vectors[i, k] * s;
                for (int j = 0; j < n; j++) root[i, j] += vi * vectors[j, k];
            }
        }
        return root;
    }
}
