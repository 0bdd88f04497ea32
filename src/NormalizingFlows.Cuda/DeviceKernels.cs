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

    /// <summary>y[r, j] += bias[j], then max(·, 0) when <paramref name="relu"/> is 1.</summary>
    public static void BiasActivation(Index1D index, ArrayView<float> y, ArrayView<float> bias, int cols, int relu)
    {
        float v = y[index] + bias[index % cols];
        y[index] = relu != 0 && v < 0 ? 0 : v;
    }

    /// <summary>y[r, j] += bias[r] (a bias per row: the transposed activations of the incremental MADE), then max(·, 0) when <paramref name="relu"/> is 1.</summary>
    public static void BiasRows(Index1D index, ArrayView<float> y, ArrayView<float> bias, int cols, int relu)
    {
        float v = y[index] + bias[index / cols];
        y[index] = relu != 0 && v < 0 ? 0 : v;
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
    /// 1) plus L2·p: m, v moments; p·Decay − step·m/(√v/√bc2 + ε).
    /// </summary>
    public static void Adam(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, ArrayView<float> gradScale, AdamArgs a)
    {
        float pk = p[i];
        float gk = g[i] * gradScale[0] + a.L2 * pk;
        float mk = a.Beta1 * m[i] + (1 - a.Beta1) * gk;
        float vk = a.Beta2 * v[i] + (1 - a.Beta2) * gk * gk;
        m[i] = mk; v[i] = vk;
        p[i] = pk * a.Decay - a.StepSize * mk / (XMath.Sqrt(vk) * a.InvSqrtBc2 + a.Eps);
    }

    /// <summary>
    /// The global-norm clip factor from the summed squares of all gradients (one thread): maxNorm / (norm + 1e−6) when
    /// the norm exceeds maxNorm, else 1 (a non-finite norm gives 1: the loss reports the divergence), as GradientClipping.
    /// </summary>
    public static void ClipScale(Index1D i, ArrayView<float> sumOfSquares, ArrayView<float> scale, float maxNorm)
    {
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

    /// <summary>Row r of dst [N, cols] is row hash(seed, r) mod srcRows of src: a fresh random batch drawn on the device.</summary>
    public static void SampleRows(Index1D e, ArrayView<float> src, ArrayView<float> dst, int srcRows, int cols, long seed)
    {
        int r = e / cols, j = e % cols;
        ulong h = Mix((ulong)seed ^ Mix((ulong)r + 0x632BE59BD9B4E019UL));
        long row = (long)(h % (ulong)srcRows);
        dst[e] = src[row * cols + j];
    }

    private static ulong Mix(ulong z)
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

    private static float KnotDerivative(ArrayView<float> p, long offset, int k, int knot, float minDerivative)
        => knot == 0 || knot == k ? 1 : minDerivative + Softplus(p[offset + 2 * k + knot - 1]);

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

    /// <summary>y = s(x) (or x = s⁻¹(y)) per element and the log-derivative, identity outside [Left, Right].</summary>
    public static void SplineApply(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> y, ArrayView<float> ld, SplineArgs a)
    {
        int k = a.Bins;
        long o = (long)(int)e * (3 * k - 1);
        float v = x[e];
        if (float.IsNaN(v)) { y[e] = v; ld[e] = v; return; }
        if (v < a.Left || v > a.Right) { y[e] = v; ld[e] = 0; return; }
        float logDet;
        if (a.Inverse == 0)
        {
            int b = FindBin(p, o, k, a.Left, a.Right, a.MinWidth, v, out float xk, out float wk, out _);
            Bin(p, o + k, k, a.Left, a.Right, a.MinHeight, b, out float yk, out float hk);
            y[e] = Local(v, xk, wk, yk, hk, KnotDerivative(p, o, k, b, a.MinDerivative), KnotDerivative(p, o, k, b + 1, a.MinDerivative), out logDet);
            ld[e] = logDet;
        }
        else
        {
            int b = FindBin(p, o + k, k, a.Left, a.Right, a.MinHeight, v, out float yk, out float hk, out _);
            Bin(p, o, k, a.Left, a.Right, a.MinWidth, b, out float xk, out float wk);
            float dk = KnotDerivative(p, o, k, b, a.MinDerivative), dk1 = KnotDerivative(p, o, k, b + 1, a.MinDerivative);
            float xv = xk + LocalInverseXi(v, wk, yk, hk, dk, dk1) * wk;
            Local(xv, xk, wk, yk, hk, dk, dk1, out logDet);
            y[e] = xv;
            ld[e] = -logDet;
        }
    }

    /// <summary>
    /// Backward of the forward spline per element (RationalQuadraticSpline.ForwardElementBackward): gx and the 3K − 1
    /// parameter gradients of the element, assigned; the log-det gradient is the row's gld[e / Cols].
    /// </summary>
    public static void SplineBackward(Index1D e, ArrayView<float> x, ArrayView<float> p, ArrayView<float> gy, ArrayView<float> gld,
        ArrayView<float> gx, ArrayView<float> gp, SplineArgs a)
    {
        int k = a.Bins, mPer = 3 * k - 1;
        long o = (long)(int)e * mPer;
        for (int j = 0; j < mPer; j++) gp[o + j] = 0;
        float v = x[e], g = gy[e], gl = gld[e / a.Cols];
        if (float.IsNaN(v)) { gx[e] = v; return; }
        if (v < a.Left || v > a.Right) { gx[e] = g; return; }
        int b = FindBin(p, o, k, a.Left, a.Right, a.MinWidth, v, out float xk, out float wk, out float beforeW);
        Bin(p, o + k, k, a.Left, a.Right, a.MinHeight, b, out float yk, out float hk);
        float dk = KnotDerivative(p, o, k, b, a.MinDerivative), dk1 = KnotDerivative(p, o, k, b + 1, a.MinDerivative);

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
        float span = a.Right - a.Left;
        SoftmaxBackward(p, gp, o, k, b, gXk * span * (1 - a.MinWidth * k), gWk * span * (1 - a.MinWidth * k));
        SoftmaxBackward(p, gp, o + k, k, b, g * span * (1 - a.MinHeight * k), gHk * span * (1 - a.MinHeight * k));
        if (b > 0) gp[o + 2 * k + b - 1] += gDk * Sigmoid(p[o + 2 * k + b - 1]);
        if (b + 1 < k) gp[o + 2 * k + b] += gDk1 * Sigmoid(p[o + 2 * k + b]);
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
}
