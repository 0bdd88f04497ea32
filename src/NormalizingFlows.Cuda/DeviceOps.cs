namespace NormalizingFlows.Cuda;

/// <summary>
/// The op set on device tensors (forward and backward kernels of the flows): GEMM in all transpose variants (cuBLAS
/// on CUDA, the ILGPU kernel elsewhere), fused bias(+ReLU), masks, column gathers, the affine and rational-quadratic
/// spline updates with their backward, the standard-normal log-density, reductions and Adam. Launches are
/// asynchronous on the device's stream.
/// </summary>
internal static class DeviceOps
{
    /// <summary>c[M, N] = alpha·op(a)·op(b) + beta·c with op(a) [M, K], op(b) [K, N] (row-major).</summary>
    public static void Gemm(DeviceTensor a, bool transA, DeviceTensor b, bool transB, DeviceTensor c, int m, int n, int k, float alpha = 1, float beta = 0)
    {
        if (a.Length < (long)m * k || b.Length < (long)k * n || c.Length < (long)m * n)
            throw new ArgumentException($"GEMM [{m}×{k}]·[{k}×{n}]: operands of {a.Length}, {b.Length} and {c.Length} elements are too small");
        if (m == 0 || n == 0) return;
        var args = new GemmArgs(m, n, k, transA ? 1 : 0, transB ? 1 : 0, alpha, beta);
        var dev = c.Device;
        if (dev.Blas is { } blas) blas.Sgemm(a.Pointer, b.Pointer, c.Pointer, args);
        else dev.Kernels.Gemm(m * n, a.View, b.View, c.View, args);
    }

    /// <summary>c = op(a)·op(b) (+ beta·c) with the sizes read from the 2-D shapes.</summary>
    public static void MatMul(DeviceTensor a, bool transA, DeviceTensor b, bool transB, DeviceTensor c, float beta = 0)
    {
        int m = transA ? a.Cols : a.Rows, k = transA ? a.Rows : a.Cols;
        int kb = transB ? b.Cols : b.Rows, n = transB ? b.Rows : b.Cols;
        if (k != kb) throw new ArgumentException($"GEMM: op(a) is [{m}, {k}] but op(b) is [{kb}, {n}]");
        c.Check("GEMM output", m, n);
        Gemm(a, transA, b, transB, c, m, n, k, 1, beta);
    }

    /// <summary>y[r, j] += bias[r] for y [R, C] and bias [R], then ReLU when <paramref name="relu"/>.</summary>
    public static void BiasRows(DeviceTensor y, DeviceTensor bias, bool relu)
    {
        if (bias.Length != y.Rows) throw new ArgumentException($"bias of {bias.Length} for {y.Rows} rows");
        if (y.Length > 0) y.Device.Kernels.BiasRows((int)y.Length, y.View, bias.View, y.Cols, relu ? 1 : 0);
    }

    /// <summary>dst [C, R] = srcᵀ for src [R, C].</summary>
    public static void Transpose(DeviceTensor src, DeviceTensor dst)
    {
        if (dst.Length != src.Length || dst.Rows != src.Cols) throw new ArgumentException($"transpose of [{src.Rows}, {src.Cols}] into [{dst.Rows}, {dst.Cols}]");
        if (src.Length > 0) src.Device.Kernels.Transpose((int)src.Length, src.View, dst.View, src.Rows, src.Cols);
    }

    /// <summary>dst[i, j] = src[rows[i], columns[j]] for dst [rows.Length, columns.Length].</summary>
    public static void Gather2D(DeviceTensor src, DeviceTensor dst, DeviceIndex rows, DeviceIndex columns)
    {
        dst.Check("gathered matrix", rows.Length, columns.Length);
        if (dst.Length > 0) src.Device.Kernels.Gather2D((int)dst.Length, src.View, dst.View, rows.View, columns.View, src.Cols, columns.Length);
    }

    /// <summary>dst[r, dstCol] = src[r, srcCol] for every row r (src and dst of the same rows).</summary>
    public static void CopyColumn(DeviceTensor src, int srcCol, DeviceTensor dst, int dstCol)
    {
        if (src.Rows != dst.Rows) throw new ArgumentException($"column copy between {src.Rows} and {dst.Rows} rows");
        if (src.Rows > 0) src.Device.Kernels.CopyColumn(src.Rows, src.View, dst.View, src.Cols, srcCol, dst.Cols, dstCol);
    }

    /// <summary>y[r, j] += bias[j], then ReLU when <paramref name="relu"/>.</summary>
    public static void BiasActivation(DeviceTensor y, DeviceTensor bias, bool relu)
    {
        if (bias.Length != y.Cols) throw new ArgumentException($"bias of {bias.Length} for rows of {y.Cols}");
        y.Device.Kernels.BiasActivation((int)y.Length, y.View, bias.View, y.Cols, relu ? 1 : 0);
    }

    /// <summary>g *= (y &gt; 0).</summary>
    public static void ReluBackward(DeviceTensor g, DeviceTensor y) => g.Device.Kernels.ReluBackward((int)Same(g, y), g.View, y.View);

    /// <summary>a *= b.</summary>
    public static void Multiply(DeviceTensor a, DeviceTensor b) => a.Device.Kernels.Multiply((int)Same(a, b), a.View, b.View);

    /// <summary>a += b.</summary>
    public static void Add(DeviceTensor a, DeviceTensor b) => a.Device.Kernels.Add((int)Same(a, b), a.View, b.View);

    /// <summary>a = value.</summary>
    public static void Fill(DeviceTensor a, float value) => a.Device.Kernels.Fill((int)a.Length, a.View, value);

    /// <summary>dst = src·scale.</summary>
    public static void Scale(DeviceTensor dst, DeviceTensor src, float scale) => dst.Device.Kernels.Scale((int)Same(dst, src), dst.View, src.View, scale);

    /// <summary>dst[r, j] = src[r, j]·rowScale[r]·scale (per-event weights on a gradient).</summary>
    public static void ScaleRows(DeviceTensor dst, DeviceTensor src, DeviceTensor rowScale, float scale)
    {
        if (rowScale.Length != src.Rows) throw new ArgumentException($"row scales of {rowScale.Length} for {src.Rows} rows");
        dst.Device.Kernels.ScaleRows((int)Same(dst, src), dst.View, src.View, rowScale.View, src.Cols, scale);
    }

    /// <summary>result[j] = Σ_r g[r, j] (a GEMM with a ones row).</summary>
    public static void ColumnSums(DeviceTensor g, DeviceTensor result)
    {
        if (result.Length != g.Cols) throw new ArgumentException($"column sums of {g.Cols} columns into {result.Length}");
        Gemm(g.Device.Ones(g.Rows), false, g, false, result, 1, g.Cols, g.Rows);
    }

    /// <summary>result[0] = Σ v (all elements).</summary>
    public static void Sum(DeviceTensor v, DeviceTensor result)
        => Gemm(v.Device.Ones((int)v.Length), false, v, false, result, 1, 1, (int)v.Length);

    /// <summary>dst[r, j] = src[r, columns[j]].</summary>
    public static void Gather(DeviceTensor src, DeviceTensor dst, DeviceIndex columns)
    {
        dst.Check("gathered columns", src.Rows, columns.Length);
        if (dst.Length > 0) src.Device.Kernels.GatherColumns((int)dst.Length, src.View, dst.View, columns.View, src.Cols, columns.Length);
    }

    /// <summary>dst[r, columns[j]] = src[r, j].</summary>
    public static void Scatter(DeviceTensor src, DeviceTensor dst, DeviceIndex columns)
    {
        src.Check("scattered columns", dst.Rows, columns.Length);
        if (src.Length > 0) src.Device.Kernels.ScatterColumns((int)src.Length, src.View, dst.View, columns.View, columns.Length, dst.Cols);
    }

    /// <summary>dst[r, j] += src[r, columns[j]].</summary>
    public static void GatherAdd(DeviceTensor src, DeviceTensor dst, DeviceIndex columns)
    {
        dst.Check("gathered columns", src.Rows, columns.Length);
        if (dst.Length > 0) src.Device.Kernels.GatherColumnsAdd((int)dst.Length, src.View, dst.View, columns.View, src.Cols, columns.Length);
    }

    /// <summary>A set embedding's input x [N, K·(F + 1)] into the standardised element features feats [N·K, F] and presence flags mask [N·K].</summary>
    public static void SetInput(DeviceTensor x, DeviceTensor feats, DeviceTensor mask, DeviceTensor mean, DeviceTensor std)
    {
        int f = feats.Cols;
        if (mask.Length != feats.Rows || x.Length != (long)feats.Rows * (f + 1) || mean.Length != f || std.Length != f)
            throw new ArgumentException($"set input [{x.Rows}, {x.Cols}] into elements [{feats.Rows}, {f}] with {mask.Length} flags");
        if (mask.Length > 0) x.Device.Kernels.SetInput((int)mask.Length, x.View, feats.View, mask.View, mean.View, std.View, f);
    }

    /// <summary>pooled[n, ·] = Σ_k mask[n·K + k]·phi[n·K + k, ·] (K = phi.Rows / pooled.Rows).</summary>
    public static void SumPool(DeviceTensor phi, DeviceTensor mask, DeviceTensor pooled)
    {
        int k = PoolSize(phi, mask, pooled);
        if (pooled.Length > 0) phi.Device.Kernels.SumPool((int)pooled.Length, phi.View, mask.View, pooled.View, k, pooled.Cols);
    }

    /// <summary>gphi[n·K + k, ·] = mask[n·K + k]·gpooled[n, ·].</summary>
    public static void SumPoolBackward(DeviceTensor gpooled, DeviceTensor mask, DeviceTensor gphi)
    {
        int k = PoolSize(gphi, mask, gpooled);
        if (gphi.Length > 0) gphi.Device.Kernels.SumPoolBackward((int)gphi.Length, gpooled.View, mask.View, gphi.View, k, gpooled.Cols);
    }

    private static int PoolSize(DeviceTensor elements, DeviceTensor mask, DeviceTensor pooled)
    {
        if (pooled.Rows == 0 && elements.Rows == 0) return 1;
        if (pooled.Rows == 0 || elements.Rows % pooled.Rows != 0 || elements.Cols != pooled.Cols || mask.Length != elements.Rows)
            throw new ArgumentException($"sum pooling of [{elements.Rows}, {elements.Cols}] into [{pooled.Rows}, {pooled.Cols}] with {mask.Length} flags");
        return elements.Rows / pooled.Rows;
    }

    /// <summary>acc[r] += sign·Σ_j v[r, j].</summary>
    public static void AddRowSums(DeviceTensor v, DeviceTensor acc, float sign)
    {
        if (acc.Length != v.Rows) throw new ArgumentException($"row sums of {v.Rows} rows into {acc.Length}");
        v.Device.Kernels.AddRowSums(v.Rows, v.View, acc.View, v.Cols, sign);
    }

    /// <summary>logp[r] = logDet[r] + log N(z_r; 0, I).</summary>
    public static void NormalLogProb(DeviceTensor z, DeviceTensor logDet, DeviceTensor logp)
    {
        if (logDet.Length != z.Rows || logp.Length != z.Rows) throw new ArgumentException($"log-densities of {z.Rows} rows need [{z.Rows}] vectors");
        z.Device.Kernels.NormalLogProb(z.Rows, z.View, logDet.View, logp.View, z.Cols);
    }

    /// <summary>The affine update per element of x [N, K] with parameters [N, 2K]; y and the per-element log-det.</summary>
    public static void Affine(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld, AffineArgs a)
    {
        if (p.Length != 2 * x.Length || y.Length != x.Length || ld.Length != x.Length) throw new ArgumentException("affine update: parameters must be [N, 2K], outputs [N, K]");
        x.Device.Kernels.AffineApply((int)x.Length, x.View, p.View, y.View, ld.View, a);
    }

    /// <summary>Backward of the forward affine update: gx [N, K] and gp [N, 2K] from gy [N, K] and the row log-det gradient gld [N].</summary>
    public static void AffineBackward(DeviceTensor x, DeviceTensor p, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor gp, AffineArgs a)
    {
        if (gy.Length != x.Length || gx.Length != x.Length || gp.Length != p.Length || gld.Length != x.Rows) throw new ArgumentException("affine backward: gradient shapes differ from the forward's");
        x.Device.Kernels.AffineBackward((int)x.Length, x.View, p.View, gy.View, gld.View, gx.View, gp.View, a with { Cols = x.Cols });
    }

    /// <summary>The spline (or its inverse) per element of x [N, K] with parameters [N, K·(3B ∓ 1)] (<see cref="SplineArgs.ParametersPerElement"/>).</summary>
    public static void Spline(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld, SplineArgs a)
    {
        if (p.Length != x.Length * a.ParametersPerElement || y.Length != x.Length || ld.Length != x.Length) throw new ArgumentException($"spline: parameters must be [N, K·{a.ParametersPerElement}], outputs [N, K]");
        if (x.Length > 0) x.Device.Kernels.SplineApply((int)x.Length, x.View, p.View, y.View, ld.View, a with { Cols = x.Cols });
    }

    /// <summary>Backward of the forward spline: gx and gp (assigned) from gy and the row log-det gradient gld [N].</summary>
    public static void SplineBackward(DeviceTensor x, DeviceTensor p, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor gp, SplineArgs a)
    {
        if (gy.Length != x.Length || gx.Length != x.Length || gp.Length != p.Length || gld.Length != x.Rows) throw new ArgumentException("spline backward: gradient shapes differ from the forward's");
        if (x.Length > 0) x.Device.Kernels.SplineBackward((int)x.Length, x.View, p.View, gy.View, gld.View, gx.View, gp.View, a with { Cols = x.Cols });
    }

    /// <summary>The piecewise-linear spline (or its inverse) per element of x [N, K] with parameters [N, K·bins].</summary>
    public static void LinearSpline(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld, LinearSplineArgs a)
    {
        if (p.Length != x.Length * a.Bins || y.Length != x.Length || ld.Length != x.Length) throw new ArgumentException($"piecewise-linear spline: parameters must be [N, K·{a.Bins}], outputs [N, K]");
        if (x.Length > 0) x.Device.Kernels.LinearSplineApply((int)x.Length, x.View, p.View, y.View, ld.View, a);
    }

    /// <summary>Backward of the forward piecewise-linear spline: gx and gp (assigned) from gy and the row log-det gradient gld [N].</summary>
    public static void LinearSplineBackward(DeviceTensor x, DeviceTensor p, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor gp, LinearSplineArgs a)
    {
        if (gy.Length != x.Length || gx.Length != x.Length || gp.Length != p.Length || gld.Length != x.Rows) throw new ArgumentException("piecewise-linear spline backward: gradient shapes differ from the forward's");
        if (x.Length > 0) x.Device.Kernels.LinearSplineBackward((int)x.Length, x.View, p.View, gy.View, gld.View, gx.View, gp.View, a with { Cols = x.Cols });
    }

    /// <summary>The piecewise-quadratic spline (or its inverse) per element of x [N, K] with parameters [N, K·(2·bins + 1)].</summary>
    public static void QuadraticSpline(DeviceTensor x, DeviceTensor p, DeviceTensor y, DeviceTensor ld, QuadraticSplineArgs a)
    {
        if (p.Length != x.Length * (2 * a.Bins + 1) || y.Length != x.Length || ld.Length != x.Length) throw new ArgumentException($"piecewise-quadratic spline: parameters must be [N, K·{2 * a.Bins + 1}], outputs [N, K]");
        if (x.Length > 0) x.Device.Kernels.QuadraticSplineApply((int)x.Length, x.View, p.View, y.View, ld.View, a);
    }

    /// <summary>Backward of the forward piecewise-quadratic spline: gx and gp (assigned) from gy and the row log-det gradient gld [N].</summary>
    public static void QuadraticSplineBackward(DeviceTensor x, DeviceTensor p, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor gp, QuadraticSplineArgs a)
    {
        if (gy.Length != x.Length || gx.Length != x.Length || gp.Length != p.Length || gld.Length != x.Rows) throw new ArgumentException("piecewise-quadratic spline backward: gradient shapes differ from the forward's");
        if (x.Length > 0) x.Device.Kernels.QuadraticSplineBackward((int)x.Length, x.View, p.View, gy.View, gld.View, gx.View, gp.View, a with { Cols = x.Cols });
    }

    /// <summary>
    /// One Adam update of p with gradient g (times gradScale[0] when given: the clip factor) and moments m, v, with the
    /// step's scalars from the device buffer <paramref name="scalars"/> (<see cref="SetAdamScalars"/>).
    /// </summary>
    public static void Adam(DeviceTensor p, DeviceTensor g, DeviceTensor m, DeviceTensor v, DeviceTensor scalars, DeviceTensor? gradScale = null)
    {
        Same(p, g); Same(p, m); Same(p, v);
        if (scalars.Length != AdamArgs.Count) throw new ArgumentException($"Adam scalars must be [{AdamArgs.Count}], got {scalars.Length}");
        p.Device.Kernels.Adam((int)p.Length, p.View, g.View, m.View, v.View, (gradScale ?? p.Device.Ones(1)).View, scalars.View);
    }

    /// <summary>scalars [<see cref="AdamArgs.Count"/>] = one step's Adam scalars and the clip norm (one tiny kernel: no host round trip).</summary>
    public static void SetAdamScalars(DeviceTensor scalars, AdamArgs a, float maxNorm = float.PositiveInfinity)
    {
        if (scalars.Length != AdamArgs.Count) throw new ArgumentException($"Adam scalars must be [{AdamArgs.Count}], got {scalars.Length}");
        scalars.Device.Kernels.AdamScalars(1, scalars.View, a, maxNorm);
    }

    /// <summary>acc[0] += Σ g² (a GEMM of g's row with its column: deterministic).</summary>
    public static void AddSumOfSquares(DeviceTensor g, DeviceTensor acc) => Gemm(g, false, g, false, acc, 1, 1, (int)g.Length, 1, 1);

    /// <summary>scale[0] = the global-norm clip factor for the summed squares sq[0] and the clip norm of the Adam scalars (<see cref="DeviceKernels.ClipScale"/>).</summary>
    public static void ClipScale(DeviceTensor sumOfSquares, DeviceTensor scale, DeviceTensor scalars) =>
        scale.Device.Kernels.ClipScale(1, sumOfSquares.View, scale.View, scalars.View);

    /// <summary>dst[r, ·] = src[rows[r], ·] for the first dst.Rows entries of <paramref name="rows"/>.</summary>
    public static void GatherRows(DeviceTensor src, DeviceTensor dst, DeviceIndex rows)
    {
        if (src.Cols != dst.Cols || rows.Length < dst.Rows) throw new ArgumentException($"rows of [{src.Rows}, {src.Cols}] into [{dst.Rows}, {dst.Cols}] with {rows.Length} indices");
        if (dst.Length > 0) src.Device.Kernels.GatherRows((int)dst.Length, src.View, dst.View, rows.View, src.Cols);
    }

    /// <summary>Standard-normal draws into <paramref name="result"/> from <paramref name="seed"/> (counter-based: same seed, same values).</summary>
    public static void NormalNoise(DeviceTensor result, long seed) => NormalNoise(result, NoiseArgs.Rows(seed, 0, result.Cols));

    /// <summary>The rows of a seeded normal stream that <paramref name="rows"/> maps result [N, rows.Cols] to.</summary>
    public static void NormalNoise(DeviceTensor result, NoiseArgs rows)
    {
        if (rows.Cols != result.Cols || rows.PerRow < 1 || rows.First < 0 || rows.Offset < 0 || rows.Stride < 0)
            throw new ArgumentException($"normal stream rows {rows} for a tensor of {result.Cols} columns");
        if (result.Length > 0) result.Device.Kernels.NormalNoise((int)result.Length, result.View, rows);
    }

    /// <summary>The rows of a seeded uniform [0, 1) stream that <paramref name="rows"/> maps result [N, rows.Cols] to.</summary>
    public static void UniformNoise(DeviceTensor result, NoiseArgs rows)
    {
        if (rows.Cols != result.Cols || rows.PerRow < 1 || rows.First < 0 || rows.Offset < 0 || rows.Stride < 0)
            throw new ArgumentException($"uniform stream rows {rows} for a tensor of {result.Cols} columns");
        if (result.Length > 0) result.Device.Kernels.UniformNoise((int)result.Length, result.View, rows);
    }

    /// <summary>logp[r] = logDet[r] inside the unit cube, −∞ outside (a unit-cube uniform base).</summary>
    public static void UnitCubeLogProb(DeviceTensor z, DeviceTensor logDet, DeviceTensor logp)
    {
        if (logDet.Length != z.Rows || logp.Length != z.Rows) throw new ArgumentException($"log-densities of {z.Rows} rows need [{z.Rows}] vectors");
        z.Device.Kernels.UnitCubeLogProb(z.Rows, z.View, logDet.View, logp.View, z.Cols);
    }

    /// <summary>logp[r] = logDet[r] + log p(z_r) under a PeriodicNormal base (normal and uniform-on-the-circle columns).</summary>
    public static void PeriodicNormalLogProb(DeviceTensor z, DeviceTensor logDet, DeviceTensor logp, PeriodicArgs a)
    {
        if (logDet.Length != z.Rows || logp.Length != z.Rows || a.Cols != z.Cols) throw new ArgumentException($"log-densities of {z.Rows} rows need [{z.Rows}] vectors and {a.Cols} columns");
        if (z.Rows > 0) z.Device.Kernels.PeriodicNormalLogProb(z.Rows, z.View, logDet.View, logp.View, a);
    }

    /// <summary>a = 0 on the periodic columns of <paramref name="p"/>.</summary>
    public static void ZeroPeriodic(DeviceTensor a, PeriodicArgs p)
    {
        if (a.Cols != p.Cols) throw new ArgumentException($"periodic columns of {p.Cols} features for a tensor of {a.Cols} columns");
        if (a.Length > 0) a.Device.Kernels.ZeroPeriodic((int)a.Length, a.View, p);
    }

    /// <summary>The periodic columns of normal base draws replaced by uniform draws on the circle (the same stream rows).</summary>
    public static void PeriodicNoise(DeviceTensor result, NoiseArgs rows, PeriodicArgs p)
    {
        if (rows.Cols != result.Cols || p.Cols != result.Cols) throw new ArgumentException($"periodic stream rows {rows} for a tensor of {result.Cols} columns");
        if (result.Length > 0) result.Device.Kernels.PeriodicNoise((int)result.Length, result.View, rows, p);
    }

    /// <summary>a = clamp(a, 0, 1) elementwise.</summary>
    public static void ClampUnit(DeviceTensor a)
    {
        if (a.Length > 0) a.Device.Kernels.ClampUnit((int)a.Length, a.View);
    }

    /// <summary>Per-row terms of a sampled-divergence loss and their gradients by log q (<see cref="DeviceKernels.DivergenceRows"/>).</summary>
    public static void DivergenceRows(DeviceTensor logq, DeviceTensor c, DeviceTensor aux, DeviceTensor loss, DeviceTensor grad, int kind, float scale)
    {
        long n = logq.Length;
        if (c.Length != n || aux.Length != n || loss.Length != n || grad.Length != n) throw new ArgumentException($"divergence rows: every vector must have {n} entries");
        if (n > 0) logq.Device.Kernels.DivergenceRows((int)n, logq.View, c.View, aux.View, loss.View, grad.View, kind, scale);
    }

    /// <summary>Fills dst [N, D] with rows of src [M, D] drawn uniformly with replacement (counter-based from <paramref name="seed"/>).</summary>
    public static void SampleRows(DeviceTensor src, DeviceTensor dst, long seed)
    {
        if (src.Cols != dst.Cols || src.Rows < 1) throw new ArgumentException($"rows of [{src.Rows}, {src.Cols}] into [{dst.Rows}, {dst.Cols}]");
        src.Device.Kernels.SampleRows((int)dst.Length, src.View, dst.View, src.Rows, src.Cols, seed);
    }

    private static long Same(DeviceTensor a, DeviceTensor b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"elementwise op on {a.Length} and {b.Length} elements");
        return a.Length;
    }
}
