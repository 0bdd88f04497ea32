using ILGPU;
using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The kernels of the layers between a flow's conditioned layers (Glow's ActNorm and LU-decomposed linear map, a
/// fixed permutation: <see cref="DeviceActNorm"/>, <see cref="DeviceLuLinear"/>, <see cref="DevicePermutation"/>).
/// The D×D work of the LU map (composing W, inverting it, the factors' gradients) runs in double, as the library's
/// LuLinear does on the host; the per-element maps in float with exp(s) formed in double, as Transforms/AffineOp.
/// </summary>
internal static class GlowKernels
{
    /// <summary>ActNorm: y = x·exp(s) + b per feature (inverse: (x − b)·exp(−s)), exp formed in double and rounded as AffineOp.</summary>
    public static void ActNormApply(Index1D e, ArrayView<float> x, ArrayView<float> s, ArrayView<float> b, ArrayView<float> y, int cols, int inverse)
    {
        int j = e % cols;
        double sj = s[j];
        float mul = (float)XMath.Exp(inverse != 0 ? -sj : sj);
        y[e] = inverse != 0 ? (x[e] - b[j]) * mul : x[e] * mul + b[j];
    }

    /// <summary>ActNorm's backward at x: gx = gy·exp(s), prod = gy·x·exp(s) (the log-scale gradient's terms before the column sums).</summary>
    public static void ActNormBackward(Index1D e, ArrayView<float> x, ArrayView<float> s, ArrayView<float> gy, ArrayView<float> gx, ArrayView<float> prod, int cols)
    {
        int j = e % cols;
        float mul = (float)XMath.Exp((double)s[j]);
        float g = gy[e];
        gx[e] = g * mul;
        prod[e] = g * x[e] * mul;
    }

    /// <summary>logDet[r] += sign·Σ_j v[j] (the sum in double, as the host's per-row constant log|det|).</summary>
    public static void AddRowConstant(Index1D r, ArrayView<float> v, ArrayView<float> logDet, int n, float sign)
    {
        double sum = 0;
        for (int j = 0; j < n; j++) sum += v[j];
        logDet[r] += (float)(sign < 0 ? -sum : sum);
    }

    /// <summary>a[j] += scalar[0].</summary>
    public static void AddScalar(Index1D j, ArrayView<float> a, ArrayView<float> scalar) => a[j] += scalar[0];

    /// <summary>dst[r, j] = src[r, j] + sign·vec[j] (sign ±1: y − b exactly).</summary>
    public static void AddRowVector(Index1D e, ArrayView<float> src, ArrayView<float> vec, ArrayView<float> dst, int cols, float sign)
    {
        float v = vec[e % cols];
        dst[e] = sign < 0 ? src[e] - v : src[e] + v;
    }

    // The LU factors from the packed parameters: L unit lower (row by row), U' = U + diag(sign·exp(log|s|)).
    private static double L(ArrayView<float> lower, int i, int k) => k == i ? 1.0 : k < i ? lower[i * (i - 1) / 2 + k] : 0.0;

    private static double U(ArrayView<float> upper, ArrayView<float> logDiag, ArrayView<float> sign, int d, int k, int j)
        => k == j ? sign[k] * XMath.Exp((double)logDiag[k]) : k < j ? upper[k * (2 * d - k - 1) / 2 + (j - k - 1)] : 0.0;

    /// <summary>W[i, j] = (L·U')[perm[i], j] in double, rounded to float (one thread per element of the D×D weight).</summary>
    public static void LuCompose(Index1D e, ArrayView<float> lower, ArrayView<float> upper, ArrayView<float> logDiag, ArrayView<float> sign,
        ArrayView<int> perm, ArrayView<float> w, int d)
    {
        int i = e / d, j = e % d, p = perm[i];
        double sum = 0;
        int last = p < j ? p : j;
        for (int k = 0; k <= last; k++) sum += L(lower, p, k) * U(upper, logDiag, sign, d, k, j);
        w[e] = (float)sum;
    }

    /// <summary>
    /// Column c of W⁻¹ = U'⁻¹·L⁻¹·e_perm[c] (so W⁻¹ = U'⁻¹·L⁻¹·Pᵀ) by forward then back substitution in double (the
    /// thread's column of <paramref name="scratch"/> [D, D]), rounded into winv [D, D]; one thread per column.
    /// </summary>
    public static void LuInverse(Index1D c, ArrayView<float> lower, ArrayView<float> upper, ArrayView<float> logDiag, ArrayView<float> sign,
        ArrayView<int> perm, ArrayView<double> scratch, ArrayView<float> winv, int d)
    {
        int p = perm[c], at = c * d;
        for (int i = 0; i < d; i++)
        {
            double a = i == p ? 1.0 : 0.0;
            for (int k = p; k < i; k++) a -= L(lower, i, k) * scratch[at + k];
            scratch[at + i] = i < p ? 0.0 : a;
        }
        for (int i = d - 1; i >= 0; i--)
        {
            double a = scratch[at + i];
            for (int k = i + 1; k < d; k++) a -= U(upper, logDiag, sign, d, i, k) * scratch[at + k];
            scratch[at + i] = a / U(upper, logDiag, sign, d, i, i);
        }
        for (int i = 0; i < d; i++) winv[i * d + c] = (float)scratch[at + i];
    }

    /// <summary>
    /// The factors' gradients from gW [D, D] (W = P·L·U', gM[perm[i], :] = gW[i, :], read through the inverse
    /// permutation): gL = (gM·U'ᵀ) strictly below the diagonal, gU = (Lᵀ·gM) strictly above, g log|s|_a =
    /// (Lᵀ·gM)[a, a]·U'[a, a] + Σ_r gld[r] (the log|det| term, from <paramref name="gldSum"/>[0]); in double, one thread per (a, b).
    /// </summary>
    public static void LuBackward(Index1D e, ArrayView<float> lower, ArrayView<float> upper, ArrayView<float> logDiag, ArrayView<float> sign,
        ArrayView<int> inversePerm, ArrayView<float> gw, ArrayView<float> gldSum, ArrayView<float> gLower, ArrayView<float> gUpper, ArrayView<float> gLogDiag, int d)
    {
        int a = e / d, b = e % d;
        double sum = 0;
        if (b < a)
        {
            int row = inversePerm[a];
            for (int k = b; k < d; k++) sum += gw[row * d + k] * U(upper, logDiag, sign, d, b, k);
            gLower[a * (a - 1) / 2 + b] = (float)sum;
            return;
        }
        for (int k = a; k < d; k++) sum += L(lower, k, a) * gw[inversePerm[k] * d + b];
        if (b > a) gUpper[a * (2 * d - a - 1) / 2 + (b - a - 1)] = (float)sum;
        else gLogDiag[a] = (float)(sum * U(upper, logDiag, sign, d, a, a)) + gldSum[0];
    }
}
