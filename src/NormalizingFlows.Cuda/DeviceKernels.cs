using ILGPU;
using ILGPU.Algorithms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The device kernels (ILGPU: compiled to PTX on CUDA, run as .NET code on the CPU accelerator). Every kernel is one
/// thread per output element or row; tensors are dense row-major float buffers.
/// </summary>
internal static class DeviceKernels
{
    private const float HalfLog2Pi = 0.918938533204672741780329736406f;

    /// <summary>The ILGPU GEMM (CPU accelerator, and CUDA without cuBLAS): one thread per element of C.</summary>
    public static void Gemm(Index1D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs g)
    {
        int i = index / g.N, j = index % g.N;
        float sum = 0;
        for (int k = 0; k < g.K; k++)
        {
            float av = g.TransA != 0 ? a[k * g.M + i] : a[i * g.K + k];
            float bv = g.TransB != 0 ? b[j * g.K + k] : b[k * g.N + j];
            sum += av * bv;
        }
        c[index] = g.Beta == 0 ? g.Alpha * sum : g.Alpha * sum + g.Beta * c[index];
    }

    /// <summary>y[r, j] += bias[j], then the activation <paramref name="activation"/> (<see cref="DeviceActivation"/>: 0 none, 1 ReLU, …).</summary>
    public static void BiasActivation(Index1D index, ArrayView<float> y, ArrayView<float> bias, int cols, int activation)
    {
        float v = y[index] + bias[index % cols];
        y[index] = activation == 1 ? (v < 0 ? 0 : v) : activation == 0 ? v : DeviceActivationKernels.Apply(activation, v);
    }

    /// <summary>y[r, j] += bias[r] (a bias per row: the transposed activations of the incremental MADE), then the activation <paramref name="activation"/> (as <see cref="BiasActivation"/>).</summary>
    public static void BiasRows(Index1D index, ArrayView<float> y, ArrayView<float> bias, int cols, int activation)
    {
        float v = y[index] + bias[index / cols];
        y[index] = activation == 1 ? (v < 0 ? 0 : v) : activation == 0 ? v : DeviceActivationKernels.Apply(activation, v);
    }

    /// <summary>dst [cols, rows] = srcᵀ for src [rows, cols].</summary>
    public static void Transpose(Index1D index, ArrayView<float> src, ArrayView<float> dst, int rows, int cols)
    {
        int r = index / cols, c = index % cols;
        dst[c * rows + r] = src[index];
    }

    /// <summary>dst[i, j] = src[rowIndex[i], colIndex[j]] for src [·, srcCols], dst [·, dstCols].</summary>
    public static void Gather2D(Index1D index, ArrayView<float> src, ArrayView<float> dst, ArrayView<int> rowIndex, ArrayView<int> colIndex, int srcCols, int dstCols)
    {
        int i = index / dstCols, j = index % dstCols;
        dst[index] = src[rowIndex[i] * srcCols + colIndex[j]];
    }

    /// <summary>dst[r, dstCol] = src[r, srcCol] for every row r of src [N, srcCols], dst [N, dstCols].</summary>
    public static void CopyColumn(Index1D r, ArrayView<float> src, ArrayView<float> dst, int srcCols, int srcCol, int dstCols, int dstCol)
        => dst[r * dstCols + dstCol] = src[r * srcCols + srcCol];

    /// <summary>g *= (y &gt; 0): the ReLU backward from its output.</summary>
    public static void ReluBackward(Index1D index, ArrayView<float> g, ArrayView<float> y)
    {
        if (!(y[index] > 0)) g[index] = 0;
    }

    /// <summary>a *= b elementwise (a weight gradient times its mask).</summary>
    public static void Multiply(Index1D index, ArrayView<float> a, ArrayView<float> b) => a[index] *= b[index];

    /// <summary>a += b elementwise.</summary>
    public static void Add(Index1D index, ArrayView<float> a, ArrayView<float> b) => a[index] += b[index];

    /// <summary>a = value.</summary>
    public static void Fill(Index1D index, ArrayView<float> a, float value) => a[index] = value;

    /// <summary>a = b·scale.</summary>
    public static void Scale(Index1D index, ArrayView<float> a, ArrayView<float> b, float scale) => a[index] = b[index] * scale;

    /// <summary>a[r, j] = b[r, j]·rowScale[r]·scale for rows of <paramref name="cols"/>.</summary>
    public static void ScaleRows(Index1D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> rowScale, int cols, float scale)
        => a[index] = b[index] * rowScale[index / cols] * scale;

    /// <summary>dst[r, j] = src[r, columns[j]] for dst [N, dstCols], src [N, srcCols].</summary>
    public static void GatherColumns(Index1D index, ArrayView<float> src, ArrayView<float> dst, ArrayView<int> columns, int srcCols, int dstCols)
    {
        int r = index / dstCols, j = index % dstCols;
        dst[index] = src[r * srcCols + columns[j]];
    }

    /// <summary>dst[r, columns[j]] = src[r, j] for src [N, srcCols], dst [N, dstCols].</summary>
    public static void ScatterColumns(Index1D index, ArrayView<float> src, ArrayView<float> dst, ArrayView<int> columns, int srcCols, int dstCols)
    {
        int r = index / srcCols, j = index % srcCols;
        dst[r * dstCols + columns[j]] = src[index];
    }

    /// <summary>dst[r, j] += src[r, columns[j]] for dst [N, dstCols], src [N, srcCols] (a context gradient summed over layers).</summary>
    public static void GatherColumnsAdd(Index1D index, ArrayView<float> src, ArrayView<float> dst, ArrayView<int> columns, int srcCols, int dstCols)
    {
        int r = index / dstCols, j = index % dstCols;
        dst[index] += src[r * srcCols + columns[j]];
    }

    /// <summary>
    /// A set embedding's input row layout [N, K·(F + 1)] (each element a presence flag, then F features) into the
    /// elements' standardised features feats [N·K, F] ((x − mean)/std; 0 for an absent element, flag 0) and their
    /// flags mask [N·K]: one thread per element (Nn/Embeddings/SetEmbedding).
    /// </summary>
    public static void SetInput(Index1D e, ArrayView<float> x, ArrayView<float> feats, ArrayView<float> mask, ArrayView<float> mean, ArrayView<float> std, int f)
    {
        long src = (long)(int)e * (f + 1), dst = (long)(int)e * f;
        float flag = x[src];
        mask[e] = flag;
        for (int j = 0; j < f; j++) feats[dst + j] = flag == 0 ? 0 : (x[src + 1 + j] - mean[j]) / std[j];
    }

    /// <summary>pooled[n, h] = Σ_k mask[n·K + k]·phi[n·K + k, h] for pooled [N, H]: the deep-sets sum over a row's elements.</summary>
    public static void SumPool(Index1D index, ArrayView<float> phi, ArrayView<float> mask, ArrayView<float> pooled, int k, int h)
    {
        int n = index / h, j = index % h;
        float s = 0;
        for (int e = 0; e < k; e++)
        {
            long row = (long)n * k + e;
            s += mask[row] * phi[row * h + j];
        }
        pooled[index] = s;
    }

    /// <summary>gphi[n·K + k, h] = mask[n·K + k]·gpooled[n, h] for gphi [N·K, H]: the backward of <see cref="SumPool"/>.</summary>
    public static void SumPoolBackward(Index1D index, ArrayView<float> gpooled, ArrayView<float> mask, ArrayView<float> gphi, int k, int h)
    {
        long row = index / h;
        int j = index % h;
        gphi[index] = mask[row] * gpooled[row / k * h + j];
    }

    /// <summary>acc[r] += sign·Σ_j v[r, j].</summary>
    public static void AddRowSums(Index1D r, ArrayView<float> v, ArrayView<float> acc, int cols, float sign)
    {
        float s = 0;
        for (int j = 0; j < cols; j++) s += v[r * cols + j];
        acc[r] += sign * s;
    }

    /// <summary>logp[r] = logDet[r] − ½Σ z² − (D/2)·log 2π: the standard-normal base plus the flow's log|det|.</summary>
    public static void NormalLogProb(Index1D r, ArrayView<float> z, ArrayView<float> logDet, ArrayView<float> logp, int cols)
    {
        float s = 0;
        for (int j = 0; j < cols; j++) { float v = z[r * cols + j]; s += v * v; }
        logp[r] = logDet[r] - 0.5f * s - cols * HalfLog2Pi;
    }

    /// <summary>
    /// One Adam step per element, the arithmetic of Optim/Adam on the gradient times gradScale[0] (the clip factor, or
    /// 1) plus L2·p: m, v moments; p·Decay − step·m/(√v/√bc2 + ε). The step's scalars are read from the device buffer
    /// <paramref name="s"/> (<see cref="AdamScalars"/>' layout), so the launch's arguments are the same at every step.
    /// </summary>
    public static void Adam(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, ArrayView<float> gradScale, ArrayView<float> s)
    {
        float beta1 = s[AdamArgs.Beta1At], beta2 = s[AdamArgs.Beta2At];
        float pk = p[i];
        float gk = g[i] * gradScale[0] + s[AdamArgs.L2At] * pk;
        float mk = beta1 * m[i] + (1 - beta1) * gk;
        float vk = beta2 * v[i] + (1 - beta2) * gk * gk;
        m[i] = mk; v[i] = vk;
        p[i] = pk * s[AdamArgs.DecayAt] - s[AdamArgs.StepSizeAt] * mk / (XMath.Sqrt(vk) * s[AdamArgs.InvSqrtBc2At] + s[AdamArgs.EpsAt]);
    }

    /// <summary>
    /// Writes one step's Adam scalars (computed on the host in double, as Optim/Adam does) and the clip norm into the
    /// device buffer s [<see cref="AdamArgs.Count"/>] (one thread): the only per-step launch argument of a training step.
    /// </summary>
    public static void AdamScalars(Index1D i, ArrayView<float> s, AdamArgs a, float maxNorm)
    {
        s[AdamArgs.Beta1At] = a.Beta1; s[AdamArgs.Beta2At] = a.Beta2; s[AdamArgs.StepSizeAt] = a.StepSize;
        s[AdamArgs.InvSqrtBc2At] = a.InvSqrtBc2; s[AdamArgs.EpsAt] = a.Eps; s[AdamArgs.L2At] = a.L2; s[AdamArgs.DecayAt] = a.Decay;
        s[AdamArgs.MaxNormAt] = maxNorm;
    }

    /// <summary>
    /// The global-norm clip factor from the summed squares of all gradients (one thread): maxNorm / (norm + 1e−6) when
    /// the norm exceeds maxNorm (read from the Adam scalars s), else 1 (a non-finite norm gives 1: the loss reports the
    /// divergence), as GradientClipping.
    /// </summary>
    public static void ClipScale(Index1D i, ArrayView<float> sumOfSquares, ArrayView<float> scale, ArrayView<float> s)
    {
        float maxNorm = s[AdamArgs.MaxNormAt];
        float norm = XMath.Sqrt(sumOfSquares[0]);
        scale[0] = norm > maxNorm && norm <= float.MaxValue ? maxNorm / (norm + 1e-6f) : 1f;
    }

    /// <summary>dst[r, j] = src[rows[r], j] for dst [N, cols]: a batch of chosen rows of a device-resident data set.</summary>
    public static void GatherRows(Index1D e, ArrayView<float> src, ArrayView<float> dst, ArrayView<int> rows, int cols)
    {
        int r = e / cols, j = e % cols;
        dst[e] = src[(long)rows[r] * cols + j];
    }

    /// <summary>
    /// Standard-normal draws from a counter-based hash of (seed, index) and Box–Muller: element e is entry
    /// (stream row, e mod cols) of the rows <see cref="NoiseArgs"/> maps the block to, so a block of a stream draws
    /// what the whole stream drawn at once holds there.
    /// </summary>
    public static void NormalNoise(Index1D e, ArrayView<float> result, NoiseArgs a)
    {
        long q = a.First + e / a.Cols;
        long index = (q / a.PerRow * a.Stride + a.Offset + q % a.PerRow) * a.Cols + e % a.Cols;
        ulong h1 = Mix((ulong)a.Seed ^ Mix((ulong)(2 * index + 1)));
        ulong h2 = Mix(h1 ^ 0x9E3779B97F4A7C15UL);
        // 24-bit uniforms: u1 in (0, 1], u2 in [0, 1)
        float u1 = ((h1 >> 40) + 1) * (1.0f / 16777216.0f);
        float u2 = (h2 >> 40) * (1.0f / 16777216.0f);
        result[e] = XMath.Sqrt(-2 * XMath.Log(u1)) * XMath.Cos(6.28318530717958647692f * u2);
    }

    /// <summary>
    /// Uniform draws on [0, 1) from the counter-based hash of (seed, index), 24 bits each: element e is entry
    /// (stream row, e mod cols) of the rows <see cref="NoiseArgs"/> maps the block to, as <see cref="NormalNoise"/>.
    /// </summary>
    public static void UniformNoise(Index1D e, ArrayView<float> result, NoiseArgs a)
    {
        long q = a.First + e / a.Cols;
        long index = (q / a.PerRow * a.Stride + a.Offset + q % a.PerRow) * a.Cols + e % a.Cols;
        ulong h = Mix((ulong)a.Seed ^ Mix((ulong)(2 * index + 1)));
        result[e] = (h >> 40) * (1.0f / 16777216.0f);
    }

    /// <summary>logp[r] = logDet[r] when row r of z lies in [0, 1]^cols (the unit-cube uniform base: log density 0), else −∞.</summary>
    public static void UnitCubeLogProb(Index1D r, ArrayView<float> z, ArrayView<float> logDet, ArrayView<float> logp, int cols)
    {
        bool inside = true;
        for (int j = 0; j < cols; j++) { float v = z[r * cols + j]; inside = inside && v >= 0 && v <= 1; }
        logp[r] = inside ? logDet[r] : float.NegativeInfinity;
    }

    /// <summary>
    /// logp[r] = logDet[r] + log p_base(z_r) for the PeriodicNormal base: standard normal on the ordinary columns, the
    /// constant −log 2B per periodic column inside [−B, B] (B rounded to float), −∞ when one lies outside.
    /// </summary>
    public static void PeriodicNormalLogProb(Index1D r, ArrayView<float> z, ArrayView<float> logDet, ArrayView<float> logp, PeriodicArgs a)
    {
        float b = (float)a.Circle, s = 0;
        bool inside = true;
        int ordinary = 0;
        for (int j = 0; j < a.Cols; j++)
        {
            float v = z[r * a.Cols + j];
            if (HasColumn(a.Columns, j)) inside = inside && v >= -b && v <= b;
            else { s += v * v; ordinary++; }
        }
        logp[r] = inside ? logDet[r] + (-0.5f * s - ordinary * HalfLog2Pi + a.LogConstant) : float.NegativeInfinity;
    }

    /// <summary>a = 0 on the periodic columns (the uniform part of a PeriodicNormal base gives no gradient).</summary>
    public static void ZeroPeriodic(Index1D e, ArrayView<float> a, PeriodicArgs p)
    {
        if (HasColumn(p.Columns, e % p.Cols)) a[e] = 0;
    }

    /// <summary>
    /// The periodic columns of base draws replaced by uniform draws on [−B, B): B·(2u − 1) with u the 24-bit uniform of
    /// <see cref="UniformNoise"/> at the element's stream index (the other columns keep their normal draws).
    /// </summary>
    public static void PeriodicNoise(Index1D e, ArrayView<float> result, NoiseArgs a, PeriodicArgs p)
    {
        if (!HasColumn(p.Columns, e % p.Cols)) return;
        long q = a.First + e / a.Cols;
        long index = (q / a.PerRow * a.Stride + a.Offset + q % a.PerRow) * a.Cols + e % a.Cols;
        ulong h = Mix((ulong)a.Seed ^ Mix((ulong)(2 * index + 1)));
        double u = (h >> 40) * (1.0 / 16777216.0);
        result[e] = (float)(p.Circle * (2 * u - 1));
    }

    /// <summary>a clamped to [0, 1] (sampled points of a unit-cube flow, as the host clamps them); NaN stays NaN.</summary>
    public static void ClampUnit(Index1D e, ArrayView<float> a)
    {
        // comparisons, not min/max: a NaN stays NaN (as Math.Clamp on the host) instead of becoming 0 or 1 where
        // the GPU's min/max return the other operand
        float v = a[e];
        a[e] = v < 0f ? 0f : v > 1f ? 1f : v;
    }

    /// <summary>
    /// Per row of a sampled-divergence loss (Training/SampledDivergenceLoss) at log q = <paramref name="logq"/>: the
    /// row's loss term and d loss/d log q, with the round's coefficient c and aux a, scale = 1/N. Kind 0: KL,
    /// −c·log q; 1: χ², c·exp(a − log q); 2: exponential, c·(a − log q)².
    /// </summary>
    public static void DivergenceRows(Index1D r, ArrayView<float> logq, ArrayView<float> c, ArrayView<float> aux, ArrayView<float> loss, ArrayView<float> grad, int kind, float scale)
    {
        float l = logq[r], w = c[r];
        if (kind == 1)
        {
            float t = w * XMath.Exp(aux[r] - l);
            loss[r] = t * scale;
            grad[r] = -t * scale;
        }
        else if (kind == 2)
        {
            float dd = aux[r] - l;
            loss[r] = w * dd * dd * scale;
            grad[r] = -2 * w * dd * scale;
        }
        else
        {
            loss[r] = -w * l * scale;
            grad[r] = -w * scale;
        }
    }

    /// <summary>Row r of dst [N, cols] is row hash(seed, r) mod srcRows of src: a fresh random batch drawn on the device.</summary>
    public static void SampleRows(Index1D e, ArrayView<float> src, ArrayView<float> dst, int srcRows, int cols, long seed)
    {
        int r = e / cols, j = e % cols;
        ulong h = Mix((ulong)seed ^ Mix((ulong)r + 0x632BE59BD9B4E019UL));
        long row = (long)(h % (ulong)srcRows);
        dst[e] = src[row * cols + j];
    }

    internal static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // ------------------------------------------------------------------ affine update (Transforms/AffineCouplingOp)

    /// <summary>log s and d(log s)/d raw of AffineScale.Evaluate, in float.</summary>
    private static float LogScale(float raw, int kind, float bound, out float derivative)
    {
        if (kind == 2) // Sigmoid: s = σ(raw + 2) + 1e−3
        {
            float v = raw + 2;
            float sig = v >= 0 ? 1 / (1 + XMath.Exp(-v)) : XMath.Exp(v) / (1 + XMath.Exp(v));
            float s = sig + 1e-3f;
            derivative = sig * (1 - sig) / s;
            return XMath.Log(s);
        }
        if (kind == 3) // Softplus: s = softplus(raw + c0) + 1e−3
        {
            float v = raw + SoftplusOffset;
            float sp = XMath.Max(v, 0) + XMath.Log(1 + XMath.Exp(-XMath.Abs(v)));
            float sig = v >= 0 ? 1 / (1 + XMath.Exp(-v)) : XMath.Exp(v) / (1 + XMath.Exp(v));
            float s = sp + 1e-3f;
            derivative = sig / s;
            return XMath.Log(s);
        }
        if (kind == 1) // RationalClampedExp
        {
            float q = 1 / (1 + XMath.Abs(raw) / bound);
            derivative = q * q;
            return raw * q;
        }
        if (float.IsPositiveInfinity(bound)) { derivative = 1; return raw; }
        float th = XMath.Tanh(raw / bound);
        derivative = 1 - th * th;
        return bound * th;
    }

    /// <summary>log(expm1(1 − 1e−3)): AffineScale.SoftplusOffset.</summary>
    private const float SoftplusOffset = 0.539742417236952f;

    /// <summary>y = x·s + t (or x = (y − t)/s) per element, with parameters (raw s, t) per element; ld = ±log s.</summary>
    public static void AffineApply(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> y, ArrayView<float> ld, AffineArgs a)
    {
        float l = LogScale(p[2 * e], a.Kind, a.Bound, out _);
        float t = p[2 * e + 1];
        if (a.Inverse != 0) { y[e] = (x[e] - t) * XMath.Exp(-l); ld[e] = -l; }
        else { y[e] = x[e] * XMath.Exp(l) + t; ld[e] = l; }
    }

    /// <summary>Backward of the forward affine update: gx = gy·s; g raw = (gy·x·s + g ld[row])·dl; g t = gy (assigned).</summary>
    public static void AffineBackward(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> gy, ArrayView<float> gld,
        ArrayView<float> gx, ArrayView<float> gp, AffineArgs a)
    {
        float l = LogScale(p[2 * e], a.Kind, a.Bound, out float dl);
        float s = XMath.Exp(l);
        float g = gy[e];
        gx[e] = g * s;
        gp[2 * e] = (g * x[e] * s + gld[e / a.Cols]) * dl;
        gp[2 * e + 1] = g;
    }

    // ------------------------------------------------------------------ rational-quadratic spline (Transforms/Splines)

    private static float Softplus(float v) => XMath.Max(v, 0) + XMath.Log(1 + XMath.Exp(-XMath.Abs(v)));

    private static float Sigmoid(float v) => v >= 0 ? 1 / (1 + XMath.Exp(-v)) : XMath.Exp(v) / (1 + XMath.Exp(v));

    /// <summary>Max and Σ exp(u − max) of K unnormalised shares starting at <paramref name="offset"/>.</summary>
    private static float SoftmaxSum(ArrayView<float> p, long offset, int k, out float max)
    {
        float m = float.NegativeInfinity;
        for (int j = 0; j < k; j++) m = XMath.Max(m, p[offset + j]);
        if (float.IsInfinity(m) || float.IsNaN(m)) m = 0;
        float s = 0;
        for (int j = 0; j < k; j++) s += XMath.Exp(p[offset + j] - m);
        max = m;
        return s;
    }

    /// <summary>
    /// The bin of <paramref name="v"/> along the knots of one softmax row (largest j with knot_j ≤ v, the last knot
    /// pinned to <paramref name="right"/>), its left knot and width, and Σ of the shares before it.
    /// </summary>
    private static int FindBin(ArrayView<float> p, long offset, int k, float left, float right, float minShare, float v,
        out float knot, out float width, out float shareBefore)
    {
        float m;
        float sum = SoftmaxSum(p, offset, k, out m);
        float span = right - left;
        float scaled = span * (1 - minShare * k), min = span * minShare;
        float c = left, before = 0, acc = 0;
        int bin = 0;
        float kn = left, next = left;
        for (int j = 0; j < k; j++)
        {
            float share = XMath.Exp(p[offset + j] - m) / sum;
            float n = j == k - 1 ? right : c + min + scaled * share;
            if (j == 0 || v >= c) { bin = j; kn = c; next = n; before = acc; }
            acc += share;
            c = n;
        }
        knot = kn; width = next - kn; shareBefore = before;
        return bin;
    }

    /// <summary>Left knot and width of bin <paramref name="bin"/> of one softmax row.</summary>
    private static void Bin(ArrayView<float> p, long offset, int k, float left, float right, float minShare, int bin, out float knot, out float width)
    {
        float m;
        float sum = SoftmaxSum(p, offset, k, out m);
        float span = right - left;
        float scaled = span * (1 - minShare * k), min = span * minShare;
        float c = left;
        for (int j = 0; j < bin; j++) c += min + scaled * XMath.Exp(p[offset + j] - m) / sum;
        knot = c;
        width = (bin == k - 1 ? right : c + min + scaled * XMath.Exp(p[offset + bin] - m) / sum) - c;
    }

    /// <summary>
    /// The derivative at knot <paramref name="knot"/>: 1 at the boundary with identity tails (boundary 0), else minimum +
    /// softplus of its parameter (boundary 1: K + 1 learnable; boundary 2, circular: knot K shares knot 0's).
    /// </summary>
    private static float KnotDerivative(ArrayView<float> p, long offset, int k, int knot, float minDerivative, int boundary)
    {
        int i = DerivativeIndex(k, knot, boundary);
        return i < 0 ? 1 : minDerivative + Softplus(p[offset + i]);
    }

    /// <summary>The parameter index (from the element's offset) of knot <paramref name="knot"/>'s derivative; −1 for a fixed one.</summary>
    private static int DerivativeIndex(int k, int knot, int boundary)
        => boundary == 2 ? 2 * k + (knot == k ? 0 : knot) : boundary != 0 ? 2 * k + knot : knot == 0 || knot == k ? -1 : 2 * k + knot - 1;

    /// <summary>
    /// v wrapped into [−B, B) as CircularRationalQuadraticSpline.Wrap does for float: v − 2B·⌊(v + B)/2B⌋ in double,
    /// rounded to float, −B where the rounding lands on +B or above.
    /// </summary>
    private static float Wrap(double v, double bound)
    {
        double period = 2 * bound;
        double w = v - period * XMath.Floor((v + bound) / period);
        float t = (float)w, b = (float)bound;
        if (t >= b) t -= (float)period;
        if (t < -b) t = -b;
        return t;
    }

    /// <summary>Whether column <paramref name="col"/> is in the set <paramref name="bits"/> (bit c for column c &lt; 64; −1: every column).</summary>
    private static bool HasColumn(long bits, int col) => bits == -1L || (col < 64 && ((bits >> col) & 1) != 0);

    /// <summary>
    /// The spline kind of element e: its interval and boundary mode (2 for a circular column of a circular update,
    /// whose other columns run the identity-tailed spline on [Left, Right]).
    /// </summary>
    private static int SplineMode(SplineArgs a, int e, out float left, out float right)
    {
        if (a.Boundary == 2 && HasColumn(a.CircularColumns, e % a.Cols))
        {
            left = -(float)a.Circle; right = (float)a.Circle;
            return 2;
        }
        left = a.Left; right = a.Right;
        return a.Boundary == 2 ? 0 : a.Boundary;
    }

    /// <summary>Spline value inside a bin and its log-derivative (RationalQuadraticSpline.Local).</summary>
    private static float Local(float x, float xk, float wk, float yk, float hk, float dk, float dk1, out float logDet)
    {
        float xi = XMath.Clamp((x - xk) / wk, 0, 1);
        float s = hk / wk;
        float t = xi * (1 - xi);
        float den = s + (dk1 + dk - 2 * s) * t;
        float num = hk * (s * xi * xi + dk * t);
        float pp = dk1 * xi * xi + 2 * s * t + dk * (1 - xi) * (1 - xi);
        logDet = 2 * XMath.Log(s) + XMath.Log(pp) - 2 * XMath.Log(den);
        return yk + num / den;
    }

    /// <summary>ξ ∈ [0, 1] in the bin whose image holds y (the stable root, RationalQuadraticSpline.LocalInverseXi).</summary>
    private static float LocalInverseXi(float y, float wk, float yk, float hk, float dk, float dk1)
    {
        float s = hk / wk;
        float dy = y - yk;
        float c2 = dk1 + dk - 2 * s;
        float a = hk * (s - dk) + dy * c2;
        float b = hk * dk - dy * c2;
        float c = -s * dy;
        float disc = XMath.Max(b * b - 4 * a * c, 0);
        float denom = -b - XMath.Sqrt(disc);
        float xi = denom == 0 ? 0 : 2 * c / denom;
        return XMath.Clamp(xi, 0, 1);
    }

    /// <summary>
    /// y = s(x) (or x = s⁻¹(y)) per element and the log-derivative, identity outside [Left, Right] (boundary 0) or linear
    /// tails with the boundary derivatives (1). Circular columns (boundary 2, CircularRationalQuadraticSpline): the input
    /// wrapped into [−B, B), the spline with knot K's derivative = knot 0's, then the shift (parameter 3K) added and the
    /// result wrapped; the inverse wraps y − shift and inverts the spline.
    /// </summary>
    public static void SplineApply(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> y, ArrayView<float> ld, SplineArgs a)
    {
        int k = a.Bins;
        long o = (long)(int)e * a.ParametersPerElement;
        int boundary = SplineMode(a, e, out float left, out float right);
        float v = x[e];
        if (boundary == 2) v = Wrap(a.Inverse == 0 ? v : (double)v - p[o + 3 * k], a.Circle);
        if (float.IsNaN(v)) { y[e] = v; ld[e] = v; return; }
        if (v < left || v > right)
        {
            if (boundary == 0) { y[e] = v; ld[e] = 0; return; }
            // linear tails with the boundary derivative: y = edge + d·(x − edge), x = edge + (y − edge)/d
            int knot = v < left ? 0 : k;
            float edge = v < left ? left : right;
            float d = KnotDerivative(p, o, k, knot, a.MinDerivative, boundary);
            if (a.Inverse == 0) { y[e] = edge + d * (v - edge); ld[e] = XMath.Log(d); }
            else { y[e] = edge + (v - edge) / d; ld[e] = -XMath.Log(d); }
            return;
        }
        float logDet;
        if (a.Inverse == 0)
        {
            int b = FindBin(p, o, k, left, right, a.MinWidth, v, out float xk, out float wk, out _);
            Bin(p, o + k, k, left, right, a.MinHeight, b, out float yk, out float hk);
            float yv = Local(v, xk, wk, yk, hk, KnotDerivative(p, o, k, b, a.MinDerivative, boundary), KnotDerivative(p, o, k, b + 1, a.MinDerivative, boundary), out logDet);
            y[e] = boundary == 2 ? Wrap((double)yv + p[o + 3 * k], a.Circle) : yv;
            ld[e] = logDet;
        }
        else
        {
            int b = FindBin(p, o + k, k, left, right, a.MinHeight, v, out float yk, out float hk, out _);
            Bin(p, o, k, left, right, a.MinWidth, b, out float xk, out float wk);
            float dk = KnotDerivative(p, o, k, b, a.MinDerivative, boundary), dk1 = KnotDerivative(p, o, k, b + 1, a.MinDerivative, boundary);
            float xv = xk + LocalInverseXi(v, wk, yk, hk, dk, dk1) * wk;
            Local(xv, xk, wk, yk, hk, dk, dk1, out logDet);
            y[e] = xv;
            ld[e] = -logDet;
        }
    }

    /// <summary>
    /// Backward of the forward spline per element (RationalQuadraticSpline.ForwardElementBackward): gx and the element's
    /// parameter gradients, assigned (a circular column's: knot K's derivative gradient added to knot 0's, the shift's
    /// = gy); the log-det gradient is the row's gld[e / Cols].
    /// </summary>
    public static void SplineBackward(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> gy, ArrayView<float> gld,
        ArrayView<float> gx, ArrayView<float> gp, SplineArgs a)
    {
        int k = a.Bins, mPer = a.ParametersPerElement;
        long o = (long)(int)e * mPer;
        for (int j = 0; j < mPer; j++) gp[o + j] = 0;
        int boundary = SplineMode(a, e, out float left, out float right);
        float v = x[e], g = gy[e], gl = gld[e / a.Cols];
        // circular: the wraps have derivative 1 and the shift enters additively (dy/dshift = 1)
        if (boundary == 2) { v = Wrap(v, a.Circle); gp[o + 3 * k] = g; }
        if (float.IsNaN(v)) { gx[e] = v; return; }
        if (v < left || v > right)
        {
            if (boundary == 0) { gx[e] = g; return; }
            // the linear tail y = edge + d·(x − edge), log|det| = log d
            int knot = v < left ? 0 : k;
            float edge = v < left ? left : right;
            int di = DerivativeIndex(k, knot, boundary);
            float d = KnotDerivative(p, o, k, knot, a.MinDerivative, boundary);
            gp[o + di] = (g * (v - edge) + gl / d) * Sigmoid(p[o + di]);
            gx[e] = g * d;
            return;
        }
        int b = FindBin(p, o, k, left, right, a.MinWidth, v, out float xk, out float wk, out float beforeW);
        Bin(p, o + k, k, left, right, a.MinHeight, b, out float yk, out float hk);
        float dk = KnotDerivative(p, o, k, b, a.MinDerivative, boundary), dk1 = KnotDerivative(p, o, k, b + 1, a.MinDerivative, boundary);

        // LocalBackward
        float xi = (v - xk) / wk;
        bool clamped = xi < 0 || xi > 1;
        xi = XMath.Clamp(xi, 0, 1);
        float s = hk / wk;
        float t = xi - xi * xi;
        float c = dk1 + dk - 2 * s;
        float den = s + c * t;
        float aa = s * xi * xi + dk * t;
        float num = hk * aa;
        float omx = 1 - xi;
        float pp = dk1 * xi * xi + 2 * s * t + dk * omx * omx;
        float gNum = g / den;
        float gDen = -g * num / (den * den) - 2 * gl / den;
        float gP = gl / pp;
        float gS = 2 * gl / s;
        float gDk1 = gP * xi * xi;
        gS += gP * 2 * t;
        float gT = gP * 2 * s;
        float gDk = gP * omx * omx;
        float gXi = gP * (2 * dk1 * xi - 2 * dk * omx);
        float gHk = gNum * aa;
        float gA = gNum * hk;
        gS += gA * xi * xi;
        gXi += gA * 2 * s * xi;
        gDk += gA * t;
        gT += gA * dk;
        gS += gDen;
        float gC = gDen * t;
        gT += gDen * c;
        gDk1 += gC;
        gDk += gC;
        gS -= 2 * gC;
        gXi += gT * (1 - 2 * xi);
        if (clamped) gXi = 0;
        gHk += gS / wk;
        float gWk = -gS * hk / (wk * wk);
        float gXv = gXi / wk;
        float gXk = -gXi / wk;
        gWk += -gXi * xi / wk;
        gx[e] = gXv;

        // ChainToParameters: knot cumsums, softmax shares, softplus derivatives
        float span = right - left;
        SoftmaxBackward(p, gp, o, k, b, gXk * span * (1 - a.MinWidth * k), gWk * span * (1 - a.MinWidth * k));
        SoftmaxBackward(p, gp, o + k, k, b, g * span * (1 - a.MinHeight * k), gHk * span * (1 - a.MinHeight * k));
        int i0 = DerivativeIndex(k, b, boundary), i1 = DerivativeIndex(k, b + 1, boundary);
        if (i0 >= 0) gp[o + i0] += gDk * Sigmoid(p[o + i0]);
        if (i1 >= 0) gp[o + i1] += gDk1 * Sigmoid(p[o + i1]);
    }

    /// <summary>gu_j += sm_j·(g_j − Σ sm·g) with share gradient gBefore for j &lt; b, gAt at b, 0 after.</summary>
    private static void SoftmaxBackward(ArrayView<float> p, ArrayView<float> gp, long offset, int k, int b, float gBefore, float gAt)
    {
        float m;
        float sum = SoftmaxSum(p, offset, k, out m);
        float dot = 0;
        for (int j = 0; j <= b; j++) dot += (j < b ? gBefore : gAt) * (XMath.Exp(p[offset + j] - m) / sum);
        for (int j = 0; j < k; j++)
        {
            float sm = XMath.Exp(p[offset + j] - m) / sum;
            float gj = j < b ? gBefore : j == b ? gAt : 0;
            gp[offset + j] += sm * (gj - dot);
        }
    }

    // ------------------------------------------------------------------ piecewise-linear spline (Transforms/Splines/PiecewiseLinearSpline)

    /// <summary>Mass of bin <paramref name="j"/>: MinMass + (1 − K·MinMass)·softmax share.</summary>
    private static float Mass(ArrayView<float> p, long o, int j, float max, float sum, LinearSplineArgs a)
        => a.MinMass + (1 - a.Bins * a.MinMass) * (XMath.Exp(p[o + j] - max) / sum);

    /// <summary>
    /// y = s(x) (or x = s⁻¹(y)) per element and the log-derivative: the CDF of the piecewise-constant density of K
    /// equal-width bins, continued linearly outside [0, 1] with the boundary bins' slopes (PiecewiseLinearSpline).
    /// </summary>
    public static void LinearSplineApply(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> y, ArrayView<float> ld, LinearSplineArgs a)
    {
        int k = a.Bins;
        long o = (long)(int)e * k;
        float v = x[e];
        if (float.IsNaN(v)) { y[e] = v; ld[e] = v; return; }
        float sum = SoftmaxSum(p, o, k, out float max);
        if (a.Inverse == 0)
        {
            int b;
            float c = 0, alpha;
            if (!(v >= 0)) { b = 0; alpha = k * v; }
            else if (v >= 1) { b = k - 1; c = 1 - Mass(p, o, k - 1, max, sum, a); alpha = k * v - (k - 1); }
            else
            {
                b = XMath.Min((int)(v * k), k - 1);
                for (int j = 0; j < b; j++) c += Mass(p, o, j, max, sum, a);
                alpha = k * v - b;
            }
            float qb = Mass(p, o, b, max, sum, a);
            y[e] = c + alpha * qb;
            ld[e] = XMath.Log(k * qb);
        }
        else
        {
            int b = k - 1;
            float c = 0;
            if (!(v >= 0)) b = 0;
            else
                for (int j = 0; j < k - 1; j++)
                {
                    float q = Mass(p, o, j, max, sum, a);
                    if (v < c + q) { b = j; break; }
                    c += q;
                }
            float qb = Mass(p, o, b, max, sum, a);
            y[e] = (b + (v - c) / qb) / k;
            ld[e] = -XMath.Log(k * qb);
        }
    }

    /// <summary>
    /// Backward of the forward piecewise-linear spline per element (PiecewiseLinearSpline.ForwardBackward): gx and the
    /// K parameter gradients (assigned) from gy and the row's log-det gradient gld[e / Cols].
    /// </summary>
    public static void LinearSplineBackward(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> gy, ArrayView<float> gld,
        ArrayView<float> gx, ArrayView<float> gp, LinearSplineArgs a)
    {
        int k = a.Bins;
        long o = (long)(int)e * k;
        float v = x[e], g = gy[e], gl = gld[e / a.Cols];
        float sum = SoftmaxSum(p, o, k, out float max);
        int b; // NaN goes to bin 0 with α = NaN, as on the host
        float alpha;
        if (!(v >= 0)) { b = 0; alpha = k * v; }
        else if (v >= 1) { b = k - 1; alpha = k * v - (k - 1); }
        else { b = XMath.Min((int)(v * k), k - 1); alpha = k * v - b; }
        float qb = Mass(p, o, b, max, sum, a);
        gx[e] = g * k * qb;
        // y = Σ_{j<b} Q_j + α·Q_b, log|det| = log(K·Q_b) (the right tail's 1 − Q_{K−1} equals Σ_{j<K−1} Q_j: its Q
        // gradient differs by a constant vector, which the softmax backward removes)
        float scale = 1 - k * a.MinMass;
        float gAt = g * alpha + gl / qb;
        float dot = 0;
        for (int j = 0; j <= b; j++) dot += (j < b ? g : gAt) * scale * (XMath.Exp(p[o + j] - max) / sum);
        for (int j = 0; j < k; j++)
        {
            float share = XMath.Exp(p[o + j] - max) / sum;
            float gq = (j < b ? g : j == b ? gAt : 0) * scale;
            gp[o + j] = share * (gq - dot);
        }
    }

    // ------------------------------------------------------------------ piecewise-quadratic spline (Transforms/Splines/PiecewiseQuadraticSpline)

    /// <summary>The normalisation of one element: the widths' softmax max and sum, the heights' max, the area A.</summary>
    private static float QuadraticArea(ArrayView<float> p, long o, QuadraticSplineArgs a, out float wmax, out float wsum, out float hmax)
    {
        int k = a.Bins;
        wsum = SoftmaxSum(p, o, k, out wmax);
        float m = float.NegativeInfinity;
        for (int j = 0; j <= k; j++) m = XMath.Max(m, p[o + k + j]);
        if (float.IsInfinity(m) || float.IsNaN(m)) m = 0;
        hmax = m;
        float area = 0;
        for (int j = 0; j < k; j++) area += 0.5f * (XMath.Exp(p[o + k + j] - m) + XMath.Exp(p[o + k + j + 1] - m)) * QuadraticWidth(p, o, j, wmax, wsum, a);
        return area;
    }

    private static float QuadraticWidth(ArrayView<float> p, long o, int j, float wmax, float wsum, QuadraticSplineArgs a)
        => a.MinWidth + (1 - a.Bins * a.MinWidth) * (XMath.Exp(p[o + j] - wmax) / wsum);

    private static float QuadraticDensity(ArrayView<float> p, long o, int j, float hmax, float area, QuadraticSplineArgs a)
        => a.MinDensity + (1 - a.MinDensity) * XMath.Exp(p[o + a.Bins + j] - hmax) / area;

    /// <summary>The bin of x along the knots X (largest j ≤ K − 1 with X_j ≤ x, X_K pinned to 1), its knot X_b and cumulative area C_b.</summary>
    private static int QuadraticBin(ArrayView<float> p, long o, QuadraticSplineArgs a, float x, float wmax, float wsum, float hmax, float area, bool byArea,
        out float knot, out float before)
    {
        int k = a.Bins, b = 0;
        float xk = 0, ck = 0, kn = 0, cb = 0;
        for (int j = 0; j < k; j++)
        {
            if (j == 0 || x >= (byArea ? ck : xk)) { b = j; kn = xk; cb = ck; }
            float w = QuadraticWidth(p, o, j, wmax, wsum, a);
            float vj = QuadraticDensity(p, o, j, hmax, area, a), vj1 = QuadraticDensity(p, o, j + 1, hmax, area, a);
            xk = j == k - 1 ? 1 : xk + w;
            ck = j == k - 1 ? 1 : ck + 0.5f * (vj + vj1) * w;
        }
        knot = kn; before = cb;
        return b;
    }

    /// <summary>y(x) and the density at x (linear tails outside [0, 1]).</summary>
    private static float QuadraticEval(ArrayView<float> p, long o, QuadraticSplineArgs a, float x, float wmax, float wsum, float hmax, float area, out float pdf)
    {
        int k = a.Bins;
        if (x < 0) { pdf = QuadraticDensity(p, o, 0, hmax, area, a); return pdf * x; }
        if (x > 1) { pdf = QuadraticDensity(p, o, k, hmax, area, a); return 1 + pdf * (x - 1); }
        int b = QuadraticBin(p, o, a, x, wmax, wsum, hmax, area, false, out float xb, out float cb);
        float wb = QuadraticWidth(p, o, b, wmax, wsum, a);
        float vb = QuadraticDensity(p, o, b, hmax, area, a), dv = QuadraticDensity(p, o, b + 1, hmax, area, a) - vb;
        float d = XMath.Clamp(x - xb, 0, wb);
        pdf = vb + d * dv / wb;
        return cb + d * vb + d * d / (2 * wb) * dv;
    }

    /// <summary>y = s(x) (or x = s⁻¹(y)) per element and the log-derivative (PiecewiseQuadraticSpline).</summary>
    public static void QuadraticSplineApply(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> y, ArrayView<float> ld, QuadraticSplineArgs a)
    {
        int k = a.Bins;
        long o = (long)(int)e * (2 * k + 1);
        float v = x[e];
        if (float.IsNaN(v)) { y[e] = v; ld[e] = v; return; }
        float area = QuadraticArea(p, o, a, out float wmax, out float wsum, out float hmax);
        float pdf;
        if (a.Inverse == 0)
        {
            y[e] = QuadraticEval(p, o, a, v, wmax, wsum, hmax, area, out pdf);
            ld[e] = XMath.Log(pdf);
            return;
        }
        float xv;
        if (v < 0) xv = v / QuadraticDensity(p, o, 0, hmax, area, a);
        else if (v > 1) xv = 1 + (v - 1) / QuadraticDensity(p, o, k, hmax, area, a);
        else
        {
            int b = QuadraticBin(p, o, a, v, wmax, wsum, hmax, area, true, out float xb, out float cb);
            float wb = QuadraticWidth(p, o, b, wmax, wsum, a);
            float vb = QuadraticDensity(p, o, b, hmax, area, a), dv = QuadraticDensity(p, o, b + 1, hmax, area, a) - vb;
            float r = v - cb;
            // (dv / 2wb)·d² + vb·d − r = 0, the stable root d = 2r / (vb + √(vb² + 2·dv·r/wb))
            float disc = XMath.Max(vb * vb + 2 * dv * r / wb, 0);
            float d = 2 * r / (vb + XMath.Sqrt(disc));
            xv = xb + XMath.Clamp(d, 0, wb);
        }
        QuadraticEval(p, o, a, xv, wmax, wsum, hmax, area, out pdf);
        y[e] = xv;
        ld[e] = -XMath.Log(pdf);
    }

    /// <summary>
    /// Backward of the forward piecewise-quadratic spline per element (PiecewiseQuadraticSpline.ForwardBackward): gx and
    /// the 2K + 1 parameter gradients (assigned; the gradient row holds the widths' and densities' gradients first).
    /// </summary>
    public static void QuadraticSplineBackward(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> gy, ArrayView<float> gld,
        ArrayView<float> gx, ArrayView<float> gp, QuadraticSplineArgs a)
    {
        int k = a.Bins;
        long o = (long)(int)e * (2 * k + 1);
        for (int j = 0; j <= 2 * k; j++) gp[o + j] = 0;
        float v = x[e], g = gy[e], gl = gld[e / a.Cols];
        if (float.IsNaN(v)) { gx[e] = v; return; }
        float area = QuadraticArea(p, o, a, out float wmax, out float wsum, out float hmax);
        long gW = o, gV = o + k; // the grid's gradients, chained to the parameters in place below
        if (v < 0 || v > 1)
        {
            int j = v < 0 ? 0 : k;
            float dx = v < 0 ? v : v - 1;
            float vj = QuadraticDensity(p, o, j, hmax, area, a);
            gp[gV + j] += g * dx + gl / vj;
            gx[e] = g * vj;
        }
        else
        {
            int b = QuadraticBin(p, o, a, v, wmax, wsum, hmax, area, false, out float xb, out _);
            float wb = QuadraticWidth(p, o, b, wmax, wsum, a);
            float vb = QuadraticDensity(p, o, b, hmax, area, a), dv = QuadraticDensity(p, o, b + 1, hmax, area, a) - vb;
            float d = v - xb;
            bool clamped = d < 0 || d > wb;
            d = XMath.Clamp(d, 0, wb);
            float pdf = vb + d * dv / wb;
            float gPdf = gl / pdf;
            float gD = clamped ? 0 : g * pdf + gPdf * dv / wb;
            gp[gV + b] += g * (d - d * d / (2 * wb)) + gPdf * (1 - d / wb);
            gp[gV + b + 1] += g * d * d / (2 * wb) + gPdf * d / wb;
            gp[gW + b] += -g * d * d * dv / (2 * wb * wb) - gPdf * d * dv / (wb * wb);
            for (int j = 0; j < b; j++)
            {
                float vj = QuadraticDensity(p, o, j, hmax, area, a), vj1 = QuadraticDensity(p, o, j + 1, hmax, area, a);
                float wj = QuadraticWidth(p, o, j, wmax, wsum, a);
                gp[gW + j] += g * 0.5f * (vj + vj1) - gD;
                gp[gV + j] += g * 0.5f * wj;
                gp[gV + j + 1] += g * 0.5f * wj;
            }
            gx[e] = gD;
        }
        // V_j = m + (1 − m)·E_j/A, A = Σ_j (E_j + E_{j+1})·W_j/2; W_j = m_w + (1 − K·m_w)·softmax_j
        float f = 1 - a.MinDensity;
        float gA = 0;
        for (int j = 0; j <= k; j++) gA -= f * gp[gV + j] * XMath.Exp(p[o + k + j] - hmax) / (area * area);
        for (int j = 0; j <= k; j++)
        {
            float dAdE = 0.5f * ((j > 0 ? QuadraticWidth(p, o, j - 1, wmax, wsum, a) : 0) + (j < k ? QuadraticWidth(p, o, j, wmax, wsum, a) : 0));
            float ej = XMath.Exp(p[o + k + j] - hmax);
            gp[gV + j] = (f * gp[gV + j] / area + gA * dAdE) * ej;
        }
        float dot = 0;
        for (int j = 0; j < k; j++)
        {
            float gw = (gp[gW + j] + gA * 0.5f * (XMath.Exp(p[o + k + j] - hmax) + XMath.Exp(p[o + k + j + 1] - hmax))) * (1 - k * a.MinWidth);
            gp[gW + j] = gw;
            dot += gw * (XMath.Exp(p[o + j] - wmax) / wsum);
        }
        for (int j = 0; j < k; j++) gp[gW + j] = (XMath.Exp(p[o + j] - wmax) / wsum) * (gp[gW + j] - dot);
    }
}
