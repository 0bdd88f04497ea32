using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Invertible linear map in LU form (Glow's invertible 1×1 convolution, for tabular data): y = x·Wᵀ + b (W·x per row)
/// with W = P·L·(U + diag s), P a fixed permutation ((P·M)[i, :] = M[perm[i], :]), L unit lower-triangular, U strictly
/// upper-triangular and s = sign·exp(log|s|). log|det| = Σ log|s| per row; the inverse is x = W⁻¹·(y − b), with W⁻¹
/// formed once per call from the two triangular inverses (all D×D work in double).
/// Parameters: "lower" (the D(D−1)/2 strictly lower entries of L, row by row), "upper" (the D(D−1)/2 strictly upper
/// entries of U, row by row), "log_abs_diag" log|s| [D], "bias" b [D]. Buffers: "permutation" [D], "sign" [D] (±1).
/// </summary>
public sealed class LuLinear<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _permBuffer, _signBuffer;
    private int[] _perm = [];
    private double[] _sign = [];

    /// <summary>
    /// Creates the map on <paramref name="features"/> features: the identity without <paramref name="rng"/>, otherwise
    /// the (pivoted) LU decomposition of a random orthogonal matrix drawn from <paramref name="rng"/>, with zero bias.
    /// </summary>
    public LuLinear(int features, Rng? rng = null) : base(features)
    {
        int d = features, m = d * (d - 1) / 2;
        var lower = new double[m];
        var upper = new double[m];
        var logDiag = new double[d];
        var sign = new double[d];
        var perm = new int[d];
        for (int i = 0; i < d; i++) { perm[i] = i; sign[i] = 1; }
        if (rng is not null) RandomOrthogonalLu(d, rng, lower, upper, logDiag, sign, perm);
        Lower = RegisterParameter("lower", new Parameter<T>(Tensor<T>.FromDoubles(lower, m)));
        Upper = RegisterParameter("upper", new Parameter<T>(Tensor<T>.FromDoubles(upper, m)));
        LogAbsDiag = RegisterParameter("log_abs_diag", new Parameter<T>(Tensor<T>.FromDoubles(logDiag, d)));
        Bias = RegisterParameter("bias", new Parameter<T>(Tensor<T>.Zeros(d)));
        _permBuffer = RegisterBuffer("permutation", Tensor<T>.FromDoubles(perm.Select(p => (double)p).ToArray(), d));
        _signBuffer = RegisterBuffer("sign", Tensor<T>.FromDoubles(sign, d));
        RefreshFromBuffers();
    }

    /// <summary>Strictly lower entries of L, packed row by row ((1,0), (2,0), (2,1), …).</summary>
    public Parameter<T> Lower { get; }

    /// <summary>Strictly upper entries of U, packed row by row ((0,1), (0,2), …, (1,2), …).</summary>
    public Parameter<T> Upper { get; }

    /// <summary>log|s|, the log-magnitudes of U's diagonal [D].</summary>
    public Parameter<T> LogAbsDiag { get; }

    /// <summary>The bias b [D].</summary>
    public Parameter<T> Bias { get; }

    /// <summary>The fixed permutation: row i of W is row perm[i] of L·(U + diag s).</summary>
    public IReadOnlyList<int> Permutation => _perm;

    /// <summary>The fixed signs of s (buffer "sign").</summary>
    public IReadOnlyList<double> Sign => _sign;

    /// <inheritdoc/>
    protected override void OnStateLoaded()
    {
        RefreshFromBuffers();
        base.OnStateLoaded();
    }

    private void RefreshFromBuffers()
    {
        int d = Features;
        var perm = new int[d];
        var seen = new bool[d];
        for (int i = 0; i < d; i++)
        {
            int p = int.CreateTruncating(T.Round(_permBuffer[i]));
            if ((uint)p >= (uint)d || seen[p]) throw new ArgumentException($"LuLinear: buffer 'permutation' is not a permutation of 0 … {d - 1}");
            seen[p] = true;
            perm[i] = p;
        }
        _perm = perm;
        _sign = _signBuffer.ToArray().Select(v => v < T.Zero ? -1.0 : 1.0).ToArray();
    }

    /// <summary>The current weight W = P·L·(U + diag s) as a D×D array (no graph).</summary>
    public double[,] Weight()
    {
        int d = Features;
        var (l, u) = Factors();
        var w = Compose(l, u);
        var result = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) result[i, j] = w[i * d + j];
        return result;
    }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        var w = WeightVar(inverse: false);
        return (Ops.Linear(x, w, Bias), LogDet(x.Value.Dim(0), inverse: false));
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        var winv = WeightVar(inverse: true);
        return (Ops.Linear(SubtractBias(y), winv), LogDet(y.Value.Dim(0), inverse: true));
    }

    // ------------------------------------------------------------------ the D×D part

    /// <summary>L (unit lower) and U' = U + diag s as dense row-major D×D double arrays.</summary>
    private (double[] L, double[] U) Factors()
    {
        int d = Features;
        var l = new double[d * d];
        var u = new double[d * d];
        var lo = Lower.Value.ReadOnlySpan; var up = Upper.Value.ReadOnlySpan; var ls = LogAbsDiag.Value.ReadOnlySpan;
        int k = 0;
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < i; j++) l[i * d + j] = double.CreateTruncating(lo[k++]);
            l[i * d + i] = 1;
        }
        k = 0;
        for (int i = 0; i < d; i++)
        {
            u[i * d + i] = _sign[i] * Math.Exp(double.CreateTruncating(ls[i]));
            for (int j = i + 1; j < d; j++) u[i * d + j] = double.CreateTruncating(up[k++]);
        }
        return (l, u);
    }

    /// <summary>W = P·L·U' (row i of W is row perm[i] of L·U').</summary>
    private double[] Compose(double[] l, double[] u)
    {
        int d = Features;
        var m = new double[d * d];
        Gemm.Compute(false, false, d, d, d, 1.0, l, d, u, d, 0.0, m, d);
        var w = new double[d * d];
        for (int i = 0; i < d; i++) Array.Copy(m, _perm[i] * d, w, i * d, d);
        return w;
    }

    /// <summary>W⁻¹ = U'⁻¹·L⁻¹·Pᵀ from the two triangular inverses.</summary>
    private double[] InverseWeight(double[] l, double[] u)
    {
        int d = Features;
        var li = new double[d * d]; // L⁻¹ (unit lower), row by row: li[i, :] = e_i − Σ_{k<i} l[i, k]·li[k, :]
        for (int i = 0; i < d; i++)
        {
            li[i * d + i] = 1;
            for (int k = 0; k < i; k++)
            {
                double f = l[i * d + k];
                if (f == 0) continue;
                for (int j = 0; j <= k; j++) li[i * d + j] -= f * li[k * d + j];
            }
        }
        var ui = new double[d * d]; // U'⁻¹ (upper), from the last row up: ui[i, :] = (e_i − Σ_{k>i} u[i, k]·ui[k, :]) / u[i, i]
        for (int i = d - 1; i >= 0; i--)
        {
            ui[i * d + i] = 1;
            for (int k = i + 1; k < d; k++)
            {
                double f = u[i * d + k];
                if (f == 0) continue;
                for (int j = k; j < d; j++) ui[i * d + j] -= f * ui[k * d + j];
            }
            double inv = 1.0 / u[i * d + i];
            for (int j = i; j < d; j++) ui[i * d + j] *= inv;
        }
        var m = new double[d * d];
        Gemm.Compute(false, false, d, d, d, 1.0, ui, d, li, d, 0.0, m, d);
        // right-multiplying by Pᵀ moves column perm[c] to column c
        var w = new double[d * d];
        for (int r = 0; r < d; r++)
            for (int c = 0; c < d; c++) w[r * d + c] = m[r * d + _perm[c]];
        return w;
    }

    /// <summary>W (or W⁻¹) as a graph node whose backward reaches lower, upper and log|s|.</summary>
    private Var<T> WeightVar(bool inverse)
    {
        int d = Features;
        var (l, u) = Factors();
        var m = inverse ? InverseWeight(l, u) : Compose(l, u);
        var t = Tensor<T>.Empty(d, d);
        var ts = t.Span;
        for (int i = 0; i < d * d; i++) ts[i] = T.CreateTruncating(m[i]);
        if (!(GradMode.IsEnabled && (Lower.RequiresGrad || Upper.RequiresGrad || LogAbsDiag.RequiresGrad))) return new Var<T>(t);
        return new Var<T>(t, [Lower, Upper, LogAbsDiag], o =>
        {
            var g = o.Grad!.ReadOnlySpan;
            var gw = new double[d * d];
            for (int i = 0; i < d * d; i++) gw[i] = double.CreateTruncating(g[i]);
            if (inverse)
            {
                // X = W⁻¹: dW = −Xᵀ·dX·Xᵀ
                var a = new double[d * d];
                Gemm.Compute(true, false, d, d, d, 1.0, m, d, gw, d, 0.0, a, d);
                Gemm.Compute(false, true, d, d, d, -1.0, a, d, m, d, 0.0, gw, d);
            }
            // W = P·M, M = L·U': dM[perm[i], :] = dW[i, :]; dL = dM·U'ᵀ; dU' = Lᵀ·dM
            var gm = new double[d * d];
            for (int i = 0; i < d; i++) Array.Copy(gw, i * d, gm, _perm[i] * d, d);
            var tmp = new double[d * d];
            if (Lower.RequiresGrad)
            {
                Gemm.Compute(false, true, d, d, d, 1.0, gm, d, u, d, 0.0, tmp, d);
                var gl = Lower.GradBuffer().Span;
                int k = 0;
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < i; j++) gl[k++] += T.CreateTruncating(tmp[i * d + j]);
            }
            if (Upper.RequiresGrad || LogAbsDiag.RequiresGrad)
            {
                Gemm.Compute(true, false, d, d, d, 1.0, l, d, gm, d, 0.0, tmp, d);
                if (LogAbsDiag.RequiresGrad)
                {
                    var gs = LogAbsDiag.GradBuffer().Span;
                    for (int i = 0; i < d; i++) gs[i] += T.CreateTruncating(tmp[i * d + i] * u[i * d + i]);
                }
                if (Upper.RequiresGrad)
                {
                    var gu = Upper.GradBuffer().Span;
                    int k = 0;
                    for (int i = 0; i < d; i++)
                        for (int j = i + 1; j < d; j++) gu[k++] += T.CreateTruncating(tmp[i * d + j]);
                }
            }
        });
    }

    private Var<T> LogDet(int rows, bool inverse)
    {
        var ls = LogAbsDiag.Value.ReadOnlySpan;
        double sum = 0;
        for (int j = 0; j < ls.Length; j++) sum += double.CreateTruncating(ls[j]);
        var ld = Tensor<T>.Full(T.CreateTruncating(inverse ? -sum : sum), rows);
        if (!(GradMode.IsEnabled && LogAbsDiag.RequiresGrad)) return new Var<T>(ld);
        return new Var<T>(ld, [LogAbsDiag], o =>
        {
            T total = T.CreateTruncating(Reductions.Sum(o.Grad!.ReadOnlySpan));
            if (inverse) total = -total;
            var gs = LogAbsDiag.GradBuffer().Span;
            for (int j = 0; j < gs.Length; j++) gs[j] += total;
        });
    }

    /// <summary>y − b row by row (any batch size, including 0).</summary>
    private Var<T> SubtractBias(Var<T> y)
    {
        int n = y.Value.Dim(0), d = Features;
        var b = Bias.Value.ReadOnlySpan;
        var z = Tensor<T>.Empty(n, d);
        var ys = y.Value.ReadOnlySpan; var zs = z.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++) zs[k] = ys[k] - b[j];
        if (!(GradMode.IsEnabled && (y.RequiresGrad || Bias.RequiresGrad))) return new Var<T>(z);
        return new Var<T>(z, [y, Bias], o =>
        {
            var g = o.Grad!.ReadOnlySpan;
            if (y.RequiresGrad)
            {
                var gy = y.GradBuffer().Span;
                for (int k = 0; k < g.Length; k++) gy[k] += g[k];
            }
            if (Bias.RequiresGrad)
            {
                var gb = Bias.GradBuffer().Span;
                for (int r = 0; r < n; r++)
                    for (int j = 0; j < d; j++) gb[j] -= g[r * d + j];
            }
        });
    }

    // ------------------------------------------------------------------ initialisation

    private static void RandomOrthogonalLu(int d, Rng rng, double[] lower, double[] upper, double[] logDiag, double[] sign, int[] perm)
    {
        // Q from modified Gram–Schmidt on a Gaussian matrix (columns), then P_p·Q = L·U with partial pivoting
        var a = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) a[i, j] = rng.NextNormal();
        for (int j = 0; j < d; j++)
        {
            for (int k = 0; k < j; k++)
            {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += a[i, k] * a[i, j];
                for (int i = 0; i < d; i++) a[i, j] -= dot * a[i, k];
            }
            double norm = 0;
            for (int i = 0; i < d; i++) norm += a[i, j] * a[i, j];
            norm = Math.Sqrt(norm);
            for (int i = 0; i < d; i++) a[i, j] /= norm;
        }
        var piv = Enumerable.Range(0, d).ToArray();
        for (int k = 0; k < d; k++)
        {
            int p = k;
            for (int i = k + 1; i < d; i++) if (Math.Abs(a[i, k]) > Math.Abs(a[p, k])) p = i;
            if (p != k)
            {
                for (int j = 0; j < d; j++) (a[k, j], a[p, j]) = (a[p, j], a[k, j]);
                (piv[k], piv[p]) = (piv[p], piv[k]);
            }
            for (int i = k + 1; i < d; i++)
            {
                a[i, k] /= a[k, k];
                for (int j = k + 1; j < d; j++) a[i, j] -= a[i, k] * a[k, j];
            }
        }
        // row i of L·U is row piv[i] of Q, so Q[piv[i], :] = (L·U)[i, :]: perm[piv[i]] = i
        for (int i = 0; i < d; i++) perm[piv[i]] = i;
        int lk = 0, uk = 0;
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < i; j++) lower[lk++] = a[i, j];
            sign[i] = a[i, i] < 0 ? -1 : 1;
            logDiag[i] = Math.Log(Math.Abs(a[i, i]));
            for (int j = i + 1; j < d; j++) upper[uk++] = a[i, j];
        }
    }
}
