using ILGPU;
using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The kernels of batch normalisation on the device, for both of the library's kinds (<see cref="DeviceBatchNorm"/>:
/// the flow layer Transforms/BatchNormTransform; Nn/BatchNorm1d in the blocks of a ResidualNet). <c>mode</c>: bit 1 training (batch statistics, running averages updated), bit 2 BatchNorm1d (its float
/// arithmetic, unbiased running variance and y = γ·x̂ + β; otherwise the transform's double arithmetic, biased running
/// variance and y = x̂·exp(γ) + β). The statistics are reduced over the rows by one thread per column in double, two
/// passes (mean, then Σ (x − mean)²), as the host does; the means and 1/√(var + ε) used are kept in double.
/// </summary>
internal static class BatchNormKernels
{
    /// <summary>Training mode.</summary>
    public const int Training = 1;

    /// <summary>Nn/BatchNorm1d's arithmetic (else Transforms/BatchNormTransform's).</summary>
    public const int Layer = 2;

    /// <summary>
    /// Column j's mean and 1/√(var + ε) used (into <paramref name="mean"/>, <paramref name="inv"/>): in training the
    /// batch's (biased variance), and the running averages updated r ← (1 − m)·r + m·batch (BatchNorm1d: the unbiased
    /// variance, in float as its host code); in evaluation the running averages.
    /// </summary>
    public static void Stats(Index1D j, ArrayView<float> x, ArrayView<double> mean, ArrayView<double> inv, ArrayView<float> runMean, ArrayView<float> runVar,
        int rows, int cols, int mode, double momentum, double eps)
    {
        bool layer = (mode & Layer) != 0;
        if ((mode & Training) != 0 && rows > 0)
        {
            double s = 0;
            for (int r = 0; r < rows; r++) s += x[r * cols + j];
            double mu = s / rows;
            double m2 = 0;
            for (int r = 0; r < rows; r++)
            {
                double d = x[r * cols + j] - mu;
                m2 += d * d;
            }
            double variance = m2 / rows;
            if (layer)
            {
                float keep = (float)(1 - momentum), mom = (float)momentum;
                runMean[j] = keep * runMean[j] + mom * (float)mu;
                runVar[j] = keep * runVar[j] + mom * (float)(m2 / (rows - 1));
                mean[j] = (float)mu;
                inv[j] = (float)(1.0 / XMath.Sqrt(variance + eps));
            }
            else
            {
                runMean[j] = (float)((1 - momentum) * runMean[j] + momentum * mu);
                runVar[j] = (float)((1 - momentum) * runVar[j] + momentum * variance);
                mean[j] = mu;
                inv[j] = 1.0 / XMath.Sqrt(variance + eps);
            }
            return;
        }
        mean[j] = runMean[j];
        double i = 1.0 / XMath.Sqrt(runVar[j] + eps);
        inv[j] = layer ? (float)i : i;
    }

    /// <summary>x̂ of element e in column j, rounded to float as the host keeps it.</summary>
    private static float Normalized(float x, double mean, double inv, int mode)
        => (mode & Layer) != 0 ? (x - (float)mean) * (float)inv : (float)((x - mean) * inv);

    /// <summary>y = x̂·exp(γ) + β (the transform: x̂·exp(γ) in double, rounded) or γ·x̂ + β (BatchNorm1d, float).</summary>
    public static void Apply(Index1D e, ArrayView<float> x, ArrayView<double> mean, ArrayView<double> inv, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> y, int cols, int mode)
    {
        int j = e % cols;
        if ((mode & Layer) != 0)
        {
            y[e] = gamma[j] * Normalized(x[e], mean[j], inv[j], mode) + beta[j];
            return;
        }
        double h = (x[e] - mean[j]) * inv[j];
        y[e] = (float)(h * XMath.Exp((double)gamma[j])) + beta[j];
    }

    /// <summary>The transform's log|det| per row: logDet[r] += Σ_j (γ_j + log inv_j), the sum in double.</summary>
    public static void LogDet(Index1D r, ArrayView<double> inv, ArrayView<float> gamma, ArrayView<float> logDet, int cols)
    {
        double sum = 0;
        for (int j = 0; j < cols; j++) sum += gamma[j] + XMath.Log(inv[j]);
        logDet[r] += (float)sum;
    }

    /// <summary>The transform's inverse with the running averages: x = (y − β)·(exp(−γ)·√(rv + ε)) + rm (the factor in double, rounded).</summary>
    public static void Inverse(Index1D e, ArrayView<float> y, ArrayView<float> runMean, ArrayView<float> runVar, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> x, int cols, double eps)
    {
        int j = e % cols;
        float mul = (float)(XMath.Exp(-(double)gamma[j]) * XMath.Sqrt(runVar[j] + eps));
        x[e] = (y[e] - beta[j]) * mul + runMean[j];
    }

    /// <summary>The inverse's log|det ∂x/∂y| per row: logDet[r] += −Σ_j (γ_j − log √(rv_j + ε)), the sum in double.</summary>
    public static void InverseLogDet(Index1D r, ArrayView<float> runVar, ArrayView<float> gamma, ArrayView<float> logDet, int cols, double eps)
    {
        double sum = 0;
        for (int j = 0; j < cols; j++) sum -= gamma[j] - XMath.Log(XMath.Sqrt(runVar[j] + eps));
        logDet[r] += (float)sum;
    }

    /// <summary>
    /// Column j's backward after a forward in <paramref name="mode"/> (one thread per column, sums over the rows in
    /// double): gβ_j = Σ_r gy; the transform: ĝ = gy·exp(γ), gγ_j = Σ ĝ·x̂ + Σ_r gld, and in training
    /// gx = inv·(ĝ − mean ĝ − x̂·mean(ĝ·x̂)) − Σ_r gld·x̂·inv/N (the log|det|'s dependence on the batch variance), in
    /// evaluation gx = ĝ·inv; BatchNorm1d: gγ_j = Σ gy·x̂, gx = γ·inv·(gy − mean gy − x̂·mean(gy·x̂)) (the means 0 in
    /// evaluation), in float as its host code. Every output is assigned.
    /// </summary>
    public static void Backward(Index1D j, ArrayView<float> x, ArrayView<float> gy, ArrayView<float> gld, ArrayView<double> mean, ArrayView<double> inv,
        ArrayView<float> gamma, ArrayView<float> gx, ArrayView<float> gGamma, ArrayView<float> gBeta, int rows, int cols, int mode)
    {
        bool layer = (mode & Layer) != 0, training = (mode & Training) != 0;
        double mu = mean[j], iv = inv[j];
        double scale = layer ? 1.0 : XMath.Exp((double)gamma[j]);
        double sumG = 0, sumGH = 0, total = 0;
        for (int r = 0; r < rows; r++)
        {
            int k = r * cols + j;
            double g = gy[k], h = Normalized(x[k], mu, iv, mode);
            sumG += g;
            sumGH += g * h;
            if (!layer) total += gld[r];
        }
        gBeta[j] = (float)sumG;
        gGamma[j] = layer ? (float)sumGH : (float)(sumGH * scale + total);
        if (layer)
        {
            float s = gamma[j] * (float)iv;
            float meanG = training ? (float)(sumG / rows) : 0f, meanGH = training ? (float)(sumGH / rows) : 0f;
            for (int r = 0; r < rows; r++)
            {
                int k = r * cols + j;
                gx[k] = s * (gy[k] - meanG - Normalized(x[k], mu, iv, mode) * meanGH);
            }
            return;
        }
        double mg = sumG * scale / rows, mgh = sumGH * scale / rows;
        for (int r = 0; r < rows; r++)
        {
            int k = r * cols + j;
            double gh = gy[k] * scale;
            gx[k] = training ? (float)(iv * (gh - mg - Normalized(x[k], mu, iv, mode) * mgh) - total * Normalized(x[k], mu, iv, mode) * iv / rows) : (float)(gh * iv);
        }
    }
}
