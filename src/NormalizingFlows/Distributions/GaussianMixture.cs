using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Distributions;

/// <summary>
/// A learnable mixture of K diagonal Gaussians (a multimodal base): weights softmax("logits"), means "means" [K, d],
/// log standard deviations "log_stds" [K, d]. LogProb = logsumexp_k(log π_k + log N(x; μ_k, σ_k)).
/// Samples are reparametrised in μ and σ (the component choice is discrete).
/// </summary>
public sealed class GaussianMixture<T> : Distribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates K components with means drawn from N(0, <paramref name="meanSpread"/>²) and unit widths.</summary>
    public GaussianMixture(int features, int components, Rng rng, double meanSpread = 1.0) : base(features)
    {
        if (components < 1) throw new ArgumentOutOfRangeException(nameof(components), components, "need at least one component");
        Components = components;
        Logits = RegisterParameter("logits", new Parameter<T>(Tensor<T>.Zeros(components)));
        var means = Tensor<T>.Empty(components, features);
        rng.Normal(means.Span, 0, meanSpread);
        Means = RegisterParameter("means", new Parameter<T>(means));
        LogStds = RegisterParameter("log_stds", new Parameter<T>(Tensor<T>.Zeros(components, features)));
    }

    /// <summary>Number of components K.</summary>
    public int Components { get; }

    /// <summary>Unnormalised log weights [K].</summary>
    public Parameter<T> Logits { get; }

    /// <summary>Component means [K, d].</summary>
    public Parameter<T> Means { get; }

    /// <summary>Component log standard deviations [K, d].</summary>
    public Parameter<T> LogStds { get; }

    /// <inheritdoc/>
    public override Var<T> LogProb(Var<T> x, Var<T>? context = null)
    {
        CheckInput(x, null);
        var logits = Ops.Reshape(Logits, 1, Components);
        var logWeights = Ops.Sub(logits, Ops.Reshape(Ops.LogSumExpRows(logits), 1, 1)); // [1, K]
        var comp = Ops.Add(ComponentLogDensities(x), logWeights);                        // [N, K]
        return Ops.LogSumExpRows(comp);
    }

    /// <summary>Fused [N, K] matrix of log N(x_r; μ_k, σ_k) with its backward for x, means and log-stds.</summary>
    private Var<T> ComponentLogDensities(Var<T> x)
    {
        int n = x.Value.Dim(0), d = Features, k = Components;
        var xs = x.Value; var mu = Means.Value; var ls = LogStds.Value;
        var y = Tensor<T>.Empty(n, k);
        var ys = y.Span;
        for (int r = 0; r < n; r++)
        {
            var xr = xs.ReadOnlySpan.Slice(r * d, d);
            for (int c = 0; c < k; c++)
            {
                double s = -0.5 * d * Log2Pi;
                for (int j = 0; j < d; j++)
                {
                    double l = double.CreateTruncating(ls[c * d + j]);
                    double z = (double.CreateTruncating(xr[j]) - double.CreateTruncating(mu[c * d + j])) * Math.Exp(-l);
                    s -= 0.5 * z * z + l;
                }
                ys[r * k + c] = T.CreateTruncating(s);
            }
        }
        if (!(GradMode.IsEnabled && (x.RequiresGrad || Means.RequiresGrad || LogStds.RequiresGrad))) return new Var<T>(y);
        return new Var<T>(y, [x, Means, LogStds], o =>
        {
            var g = o.Grad!.ReadOnlySpan;
            var gx = x.RequiresGrad ? x.GradBuffer().Span : default;
            var gm = Means.RequiresGrad ? Means.GradBuffer().Span : default;
            var gl = LogStds.RequiresGrad ? LogStds.GradBuffer().Span : default;
            for (int r = 0; r < n; r++)
                for (int c = 0; c < k; c++)
                {
                    double gc = double.CreateTruncating(g[r * k + c]);
                    if (gc == 0) continue;
                    for (int j = 0; j < d; j++)
                    {
                        double l = double.CreateTruncating(ls[c * d + j]);
                        double inv = Math.Exp(-l);
                        double z = (double.CreateTruncating(xs[r * d + j]) - double.CreateTruncating(mu[c * d + j])) * inv;
                        if (!gx.IsEmpty) gx[r * d + j] += T.CreateTruncating(-gc * z * inv);
                        if (!gm.IsEmpty) gm[c * d + j] += T.CreateTruncating(gc * z * inv);
                        if (!gl.IsEmpty) gl[c * d + j] += T.CreateTruncating(gc * (z * z - 1));
                    }
                }
        });
    }

    /// <inheritdoc/>
    public override Var<T> Sample(int n, Rng rng, Var<T>? context = null)
    {
        CheckCount(n);
        int d = Features, k = Components;
        var w = new double[k];
        var lg = Logits.Value.ToDoubleArray();
        double m = lg.Max(), sum = 0;
        for (int c = 0; c < k; c++) { w[c] = Math.Exp(lg[c] - m); sum += w[c]; }
        var comp = new int[n];
        for (int r = 0; r < n; r++)
        {
            double u = rng.NextDouble() * sum, acc = 0;
            int c = 0;
            for (; c < k - 1; c++) { acc += w[c]; if (u < acc) break; }
            comp[r] = c;
        }
        var eps = rng.Normal<T>(n, d);
        // x = μ_c + σ_c·ε, differentiable in μ and log σ through a gather of the component rows
        var idx = new int[n * d];
        for (int r = 0; r < n; r++) for (int j = 0; j < d; j++) idx[r * d + j] = comp[r] * d + j;
        var flatMu = Ops.Reshape(Means, 1, k * d);
        var flatLs = Ops.Reshape(LogStds, 1, k * d);
        var muRows = Ops.Reshape(Ops.GatherColumns(Broadcast(flatMu, n), idx, d), n, d);
        var lsRows = Ops.Reshape(Ops.GatherColumns(Broadcast(flatLs, n), idx, d), n, d);
        return Ops.Add(Ops.Mul(new Var<T>(eps), Ops.Exp(lsRows)), muRows);
    }

    private static Var<T> Broadcast(Var<T> row, int n)
    {
        var ones = new Var<T>(Tensor<T>.Full(T.One, n, 1));
        return Ops.MatMul(ones, row);
    }
}
