using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Nn;

/// <summary>
/// Evaluates a feed-forward <see cref="Made{T}"/> one autoregressive position at a time, doing about one MADE pass of
/// work over all D positions instead of D passes (the exact inverse of a MAF, the density of an IAF).
/// <para>
/// When the inputs at positions 0 … k−1 are known, the outputs of the feature at position k (degree k+1) depend on
/// hidden units of degree ≤ k only, and of those only the units of degree exactly k are new since step k−1 (units of
/// lower degree see inputs of lower degree only). So step k computes, per hidden layer, the block of units of degree
/// k from the already computed units of degree ≤ k below (or the known inputs and the context), then the feature's
/// output columns from the last layer's units of degree ≤ k (and the context).
/// </para>
/// <para>
/// Layout: hidden units are permuted so that each degree is a contiguous block; activations are stored transposed,
/// [units, N], so a block is one contiguous span (bias, activation) and "units of degree ≤ k" is a prefix of rows.
/// The input buffer is [context; x by position] and the last hidden buffer [context; units], so the context is part
/// of every prefix that needs it. The masked weight sub-blocks W[block_k, prefix_k] are copied into dense matrices
/// at construction; construct a new instance whenever the parameters may have changed (it is cheap: one read of the
/// weights). Each step runs one small GEMM per layer over all rows at once plus one for the feature's outputs.
/// </para>
/// <para>
/// Only the plain feed-forward MADE is supported (not the residual variant, not dropout in training mode), and only
/// when every mask agrees with the degree structure; <see cref="TryCreate"/> returns null otherwise.
/// </para>
/// </summary>
internal sealed class IncrementalMade<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Receives the outputs [N, m] of the feature at one position and writes that feature's input column (length N).</summary>
    public delegate void FeatureStep(int feature, int position, Tensor<T> parameters, Span<T> inputColumn);

    private readonly int _d, _c, _m, _layers;
    private readonly Activation _activation;
    private readonly int[] _featureAt;          // position → feature
    private readonly int[][] _start;            // [layer][degree 0 … D] block starts in the permuted (kept) units
    private readonly int[] _rowOffset;          // context rows in front of layer l's units (C for the last layer)
    private readonly int[][] _wOffset, _bOffset; // [layer][degree] offsets of the dense block and its bias
    private readonly int[] _oOffset, _obOffset; // [position] output block [m, prefix] and its bias
    private Tensor<T>? _store;

    private IncrementalMade(int d, int c, int m, int layers, Activation activation, int[] featureAt, int[][] start, int[] rowOffset,
        int[][] wOffset, int[][] bOffset, int[] oOffset, int[] obOffset, Tensor<T> store)
    {
        (_d, _c, _m, _layers, _activation) = (d, c, m, layers, activation);
        (_featureAt, _start, _rowOffset, _wOffset, _bOffset, _oOffset, _obOffset, _store) = (featureAt, start, rowOffset, wOffset, bOffset, oOffset, obOffset, store);
    }

    /// <summary>Features D.</summary>
    public int Features => _d;

    /// <summary>
    /// Extracts the blocks of <paramref name="made"/>'s current weights, or returns null when the incremental scheme
    /// does not apply (residual variant, active dropout, or a mask that does not follow the degrees).
    /// </summary>
    public static IncrementalMade<T>? TryCreate(Made<T> made)
    {
        ArgumentNullException.ThrowIfNull(made);
        if (made.IsResidual) return null;
        foreach (var (_, child) in made.NamedModules())
            if (child is Dropout<T> drop && drop.Training && drop.P > 0) return null;
        int d = made.Features, c = made.ContextFeatures, m = made.OutputMultiplier, layers = made.Layers.Count - 1;
        var order = made.Order;
        var featureAt = new int[d];
        for (int j = 0; j < d; j++) featureAt[order[j]] = j;

        // ---- per hidden layer: kept units (degree ≤ D − 1) sorted by degree, block starts
        var perm = new int[layers][];
        var start = new int[layers][];
        var degOf = new int[layers][];
        for (int l = 0; l < layers; l++)
        {
            var deg = made.HiddenDegrees(l);
            degOf[l] = deg;
            var s = new int[d + 1];
            foreach (int g in deg) if (g >= 0 && g < d) s[g + 1]++;
            for (int g = 0; g < d; g++) s[g + 1] += s[g];
            var p = new int[s[d]];
            var fill = (int[])s.Clone();
            for (int u = 0; u < deg.Length; u++) if (deg[u] >= 0 && deg[u] < d) p[fill[deg[u]]++] = u;
            perm[l] = p;
            start[l] = s;
        }
        var rowOffset = new int[layers];
        rowOffset[layers - 1] = c;

        // ---- mask check: a unit of degree g may only see inputs of degree ≤ g (units not kept count as degree ∞)
        for (int l = 0; l < layers; l++)
        {
            var mask = made.Layers[l].Mask.ReadOnlySpan;
            int inF = made.Layers[l].InFeatures;
            var deg = degOf[l];
            for (int u = 0; u < deg.Length; u++)
            {
                int g = deg[u];
                if (g < 0 || g >= d) continue; // never evaluated
                for (int i = 0; i < inF; i++)
                {
                    if (mask[u * inF + i] == T.Zero) continue;
                    int gi = l == 0 ? (i < d ? order[i] + 1 : 0) : Kept(degOf[l - 1][i], d);
                    if (gi > g) return null;
                }
            }
        }
        {
            var mask = made.Layers[layers].Mask.ReadOnlySpan;
            int inF = made.Layers[layers].InFeatures, h = degOf[layers - 1].Length;
            for (int o = 0; o < d * m; o++)
            {
                int g = order[o / m] + 1;
                for (int i = 0; i < h; i++)
                    if (mask[o * inF + i] != T.Zero && Kept(degOf[layers - 1][i], d) >= g) return null;
            }
        }

        // ---- offsets of the dense blocks
        var wOffset = new int[layers][];
        var bOffset = new int[layers][];
        int total = 0;
        for (int l = 0; l < layers; l++)
        {
            wOffset[l] = new int[d];
            bOffset[l] = new int[d];
            for (int g = 0; g < d; g++)
            {
                int rows = start[l][g + 1] - start[l][g];
                int prefix = l == 0 ? c + g : rowOffset[l - 1] + start[l - 1][g + 1];
                wOffset[l][g] = total; total += rows * prefix;
                bOffset[l][g] = total; total += rows;
            }
        }
        var oOffset = new int[d];
        var obOffset = new int[d];
        for (int k = 0; k < d; k++)
        {
            oOffset[k] = total; total += m * (c + start[layers - 1][k + 1]);
            obOffset[k] = total; total += m;
        }

        // ---- copy W∘M into the blocks
        var store = Tensor<T>.Empty(Math.Max(1, total)).Untrack();
        var st = store.Span;
        for (int l = 0; l < layers; l++)
        {
            var layer = made.Layers[l];
            var w = layer.Weight.Value.ReadOnlySpan;
            var mk = layer.Mask.ReadOnlySpan;
            var b = layer.Bias is null ? ReadOnlySpan<T>.Empty : layer.Bias.Value.ReadOnlySpan;
            int inF = layer.InFeatures;
            for (int g = 0; g < d; g++)
            {
                int r0 = start[l][g], rows = start[l][g + 1] - r0;
                int prefix = l == 0 ? c + g : rowOffset[l - 1] + start[l - 1][g + 1];
                for (int r = 0; r < rows; r++)
                {
                    int u = perm[l][r0 + r];
                    var dst = st.Slice(wOffset[l][g] + r * prefix, prefix);
                    for (int q = 0; q < prefix; q++)
                    {
                        int col = l == 0 ? (q < c ? d + q : featureAt[q - c]) : perm[l - 1][q - rowOffset[l - 1]];
                        dst[q] = w[u * inF + col] * mk[u * inF + col];
                    }
                    st[bOffset[l][g] + r] = b.IsEmpty ? T.Zero : b[u];
                }
            }
        }
        {
            var layer = made.Layers[layers];
            var w = layer.Weight.Value.ReadOnlySpan;
            var mk = layer.Mask.ReadOnlySpan;
            var b = layer.Bias is null ? ReadOnlySpan<T>.Empty : layer.Bias.Value.ReadOnlySpan;
            int inF = layer.InFeatures, h = degOf[layers - 1].Length;
            var last = perm[layers - 1];
            for (int k = 0; k < d; k++)
            {
                int j = featureAt[k], prefix = c + start[layers - 1][k + 1];
                for (int p = 0; p < m; p++)
                {
                    int o = j * m + p;
                    var dst = st.Slice(oOffset[k] + p * prefix, prefix);
                    for (int q = 0; q < prefix; q++)
                    {
                        int col = q < c ? h + q : last[q - c];
                        dst[q] = w[o * inF + col] * mk[o * inF + col];
                    }
                    st[obOffset[k] + p] = b.IsEmpty ? T.Zero : b[o];
                }
            }
        }
        return new IncrementalMade<T>(d, c, m, layers, made.Activation, featureAt, start, rowOffset, wOffset, bOffset, oOffset, obOffset, store);
    }

    private static int Kept(int degree, int d) => degree >= 0 && degree < d ? degree : int.MaxValue;

    /// <summary>
    /// Runs the D steps for <paramref name="n"/> rows: at position k, computes the outputs [n, m] of feature
    /// Order⁻¹(k) and calls <paramref name="step"/>, which must write that feature's input values (column, length n)
    /// before the next position can be evaluated. <paramref name="context"/> is [n, C] (null without context).
    /// </summary>
    public void Run(int n, Tensor<T>? context, FeatureStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var store = _store ?? throw new ObjectDisposedException(nameof(IncrementalMade<T>));
        if ((_c > 0) != (context is not null)) throw new ArgumentException(_c > 0 ? $"this MADE expects a context with {_c} features" : "this MADE was built without context features");
        if (context is not null && (context.Rank != 2 || context.Dim(0) != n || context.Dim(1) != _c))
            throw new ArgumentException($"context must be [{n}, {_c}], got {context.ShapeString}");
        if (n == 0) return;
        var st = store.ReadOnlySpan;
        var input = Tensor<T>.Empty(_c + _d, n);
        var hidden = new Tensor<T>[_layers];
        for (int l = 0; l < _layers; l++) hidden[l] = Tensor<T>.Empty(_rowOffset[l] + _start[l][_d], n);
        var parameters = Tensor<T>.Empty(n, _m);
        try
        {
            if (context is not null)
            {
                TransposeInto(context.ReadOnlySpan, n, _c, input.Span);
                TransposeInto(context.ReadOnlySpan, n, _c, hidden[_layers - 1].Span);
            }
            for (int k = 0; k < _d; k++)
            {
                for (int l = 0; l < _layers; l++)
                {
                    int r0 = _start[l][k], rows = _start[l][k + 1] - r0;
                    if (rows == 0) continue;
                    var below = l == 0 ? input.ReadOnlySpan : hidden[l - 1].ReadOnlySpan;
                    int prefix = l == 0 ? _c + k : _rowOffset[l - 1] + _start[l - 1][k + 1];
                    var block = hidden[l].Span.Slice((_rowOffset[l] + r0) * n, rows * n);
                    var bias = st.Slice(_bOffset[l][k], rows);
                    if (prefix > 0 && _activation == Activation.Relu)
                    {
                        // one pass for bias (one per unit = row) and ReLU after the GEMM, instead of fill, GEMM into it, ReLU
                        Gemm.Compute(false, false, rows, n, prefix, T.One, st.Slice(_wOffset[l][k], rows * prefix), prefix,
                            below[..(prefix * n)], n, T.Zero, block, n);
                        Autograd.BiasRelu.ApplyPerRow(block, rows, n, bias);
                        continue;
                    }
                    for (int r = 0; r < rows; r++) block.Slice(r * n, n).Fill(bias[r]);
                    if (prefix > 0)
                        Gemm.Compute(false, false, rows, n, prefix, T.One, st.Slice(_wOffset[l][k], rows * prefix), prefix,
                            below[..(prefix * n)], n, T.One, block, n);
                    Activate(block);
                }
                int outPrefix = _c + _start[_layers - 1][k + 1];
                var ps = parameters.Span;
                var ob = st.Slice(_obOffset[k], _m);
                for (int r = 0; r < n; r++) ob.CopyTo(ps.Slice(r * _m, _m));
                if (outPrefix > 0)
                    Gemm.Compute(true, true, n, _m, outPrefix, T.One, hidden[_layers - 1].ReadOnlySpan[..(outPrefix * n)], n,
                        st.Slice(_oOffset[k], _m * outPrefix), outPrefix, T.One, ps, _m);
                step(_featureAt[k], k, parameters, input.Span.Slice((_c + k) * n, n));
            }
        }
        finally
        {
            parameters.Dispose();
            foreach (var h in hidden) h.Dispose();
            input.Dispose();
        }
    }

    private void Activate(Span<T> v)
    {
        switch (_activation)
        {
            case Activation.Relu: Elementwise.Relu<T>(v, v); break;
            case Activation.Elu: Elementwise.Elu<T>(v, T.One, v); break;
            case Activation.Tanh: Elementwise.Tanh<T>(v, v); break;
            case Activation.Silu: Elementwise.Silu<T>(v, v); break;
            case Activation.LeakyRelu: Elementwise.LeakyRelu<T>(v, T.CreateTruncating(0.01), v); break;
            case Activation.Sigmoid: Elementwise.Sigmoid<T>(v, v); break;
            case Activation.Softplus: Elementwise.Softplus<T>(v, v); break;
            case Activation.Identity: break;
            default: throw new ArgumentOutOfRangeException(nameof(_activation), _activation, "unknown activation");
        }
    }

    private static void TransposeInto(ReadOnlySpan<T> src, int rows, int cols, Span<T> dst)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
    }

    /// <summary>The full MADE output [n, D·m] for known inputs x [n, D] computed step by step (a check of the scheme).</summary>
    public Tensor<T> Evaluate(Tensor<T> x, Tensor<T>? context)
    {
        ArgumentNullException.ThrowIfNull(x);
        int n = x.Dim(0);
        var output = Tensor<T>.Empty(n, _d * _m);
        Run(n, context, (feature, _, p, column) =>
        {
            var os = output.Span; var ps = p.ReadOnlySpan; var xs = x.ReadOnlySpan;
            for (int r = 0; r < n; r++)
            {
                ps.Slice(r * _m, _m).CopyTo(os.Slice(r * _d * _m + feature * _m, _m));
                column[r] = xs[r * _d + feature];
            }
        });
        return output;
    }

    /// <summary>Returns the extracted blocks to the pool.</summary>
    public void Dispose()
    {
        _store?.Dispose();
        _store = null;
    }
}
