using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Batch normalisation as a flow layer (Dinh et al., RealNVP): y = (x − μ)/√(σ² + ε)·exp(γ) + β with
/// log|det| per row = Σ_j (γ_j − ½·log(σ_j² + ε)). In training mode μ and σ² are the batch mean and biased variance
/// (the gradient flows through them, so every row's output depends on the whole batch) and the running statistics
/// are updated as r ← (1 − momentum)·r + momentum·batch; in evaluation mode the running statistics are used and the
/// map is an ordinary per-feature affine map. <see cref="Inverse"/> always uses the running statistics: sampling is
/// meant for evaluation mode (in training mode it is not the inverse of that batch's Forward).
/// Parameters: "log_gamma" γ [D], "beta" β [D]; buffers: "running_mean" [D], "running_var" [D].
/// </summary>
public sealed class BatchNormTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    protected override bool TreatsRowsIndependently => !Training; // batch statistics couple the rows

    private readonly Tensor<T> _runningMean, _runningVar;

    /// <summary>Creates the layer (γ = 0, β = 0, running mean 0, running variance 1).</summary>
    public BatchNormTransform(int features, double momentum = 0.1, double eps = 1e-5) : base(features)
    {
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must lie in [0, 1]");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be positive");
        Momentum = momentum;
        Eps = eps;
        LogGamma = RegisterParameter("log_gamma", new Parameter<T>(Tensor<T>.Zeros(features)));
        Beta = RegisterParameter("beta", new Parameter<T>(Tensor<T>.Zeros(features)));
        _runningMean = RegisterBuffer("running_mean", Tensor<T>.Zeros(features));
        _runningVar = RegisterBuffer("running_var", Tensor<T>.Full(T.One, features));
    }

    /// <summary>Weight of the newest batch in the running statistics.</summary>
    public double Momentum { get; }

    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }

    /// <summary>Log of the per-feature scale, γ [D].</summary>
    public Parameter<T> LogGamma { get; }

    /// <summary>Per-feature shift, β [D].</summary>
    public Parameter<T> Beta { get; }

    /// <summary>Running mean [D] (buffer "running_mean").</summary>
    public Tensor<T> RunningMean => _runningMean;

    /// <summary>Running biased variance [D] (buffer "running_var").</summary>
    public Tensor<T> RunningVar => _runningVar;

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        int n = x.Value.Dim(0), d = Features;
        var mean = new double[d];
        var variance = new double[d];
        bool batchStats = Training && n > 0;
        if (batchStats)
        {
            var xs = x.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++)
                for (int j = 0; j < d; j++) mean[j] += double.CreateTruncating(xs[r * d + j]);
            for (int j = 0; j < d; j++) mean[j] /= n;
            for (int r = 0; r < n; r++)
                for (int j = 0; j < d; j++)
                {
                    double e = double.CreateTruncating(xs[r * d + j]) - mean[j];
                    variance[j] += e * e;
                }
            var rm = _runningMean.Span; var rv = _runningVar.Span;
            for (int j = 0; j < d; j++)
            {
                variance[j] /= n;
                rm[j] = T.CreateTruncating((1 - Momentum) * double.CreateTruncating(rm[j]) + Momentum * mean[j]);
                rv[j] = T.CreateTruncating((1 - Momentum) * double.CreateTruncating(rv[j]) + Momentum * variance[j]);
            }
        }
        else
        {
            for (int j = 0; j < d; j++)
            {
                mean[j] = double.CreateTruncating(_runningMean[j]);
                variance[j] = double.CreateTruncating(_runningVar[j]);
            }
        }
        return Normalize(x, mean, variance, batchStats);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        int n = y.Value.Dim(0), d = Features;
        // x = (y − β)·exp(−γ)·√(σ² + ε) + μ, a per-feature affine map
        var g = LogGamma.Value.ReadOnlySpan; var b = Beta.Value.ReadOnlySpan;
        var mul = new T[d];
        var add = new T[d];
        double logDet = 0;
        for (int j = 0; j < d; j++)
        {
            double std = Math.Sqrt(double.CreateTruncating(_runningVar[j]) + Eps), gj = double.CreateTruncating(g[j]);
            mul[j] = T.CreateTruncating(Math.Exp(-gj) * std);
            add[j] = _runningMean[j];
            logDet -= gj - Math.Log(std);
        }
        var x = Tensor<T>.Empty(n, d);
        var ys = y.Value.ReadOnlySpan; var xs = x.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++) xs[k] = (ys[k] - b[j]) * mul[j] + add[j];
        var ld = Tensor<T>.Full(T.CreateTruncating(logDet), n);
        if (!(GradMode.IsEnabled && (y.RequiresGrad || LogGamma.RequiresGrad || Beta.RequiresGrad)))
            return (new Var<T>(x), new Var<T>(ld));
        var xVar = new Var<T>(x, [y, LogGamma, Beta], o =>
        {
            var gx = o.Grad!.ReadOnlySpan;
            var gy = y.RequiresGrad ? y.GradBuffer().Span : default;
            var gg = LogGamma.RequiresGrad ? LogGamma.GradBuffer().Span : default;
            var gb = Beta.RequiresGrad ? Beta.GradBuffer().Span : default;
            var yv = y.Value.ReadOnlySpan; var bv = Beta.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++)
                for (int j = 0, k = r * d; j < d; j++, k++)
                {
                    T t = gx[k] * mul[j];
                    if (!gy.IsEmpty) gy[k] += t;
                    if (!gb.IsEmpty) gb[j] -= t;
                    if (!gg.IsEmpty) gg[j] -= t * (yv[k] - bv[j]);
                }
        });
        var ldVar = !(GradMode.IsEnabled && LogGamma.RequiresGrad) ? new Var<T>(ld) : new Var<T>(ld, [LogGamma], o =>
        {
            T total = T.CreateTruncating(Tensors.Kernels.Reductions.Sum(o.Grad!.ReadOnlySpan));
            var gg = LogGamma.GradBuffer().Span;
            for (int j = 0; j < d; j++) gg[j] -= total;
        });
        return (xVar, ldVar);
    }

    /// <summary>
    /// The fused normalisation op. With <paramref name="batchStats"/> the statistics are functions of x and the
    /// backward is the full batch-norm backward (plus the log-det's dependence on σ²); otherwise they are constants.
    /// </summary>
    private (Var<T>, Var<T>) Normalize(Var<T> x, double[] mean, double[] variance, bool batchStats)
    {
        int n = x.Value.Dim(0), d = Features;
        var g = LogGamma.Value.ReadOnlySpan; var b = Beta.Value.ReadOnlySpan;
        var inv = new double[d];   // 1/√(σ² + ε)
        var scale = new double[d]; // exp(γ)
        double logDet = 0;
        for (int j = 0; j < d; j++)
        {
            inv[j] = 1.0 / Math.Sqrt(variance[j] + Eps);
            double gj = double.CreateTruncating(g[j]);
            scale[j] = Math.Exp(gj);
            logDet += gj + Math.Log(inv[j]);
        }
        var xhat = Tensor<T>.Empty(n, d);
        var y = Tensor<T>.Empty(n, d);
        var xs = x.Value.ReadOnlySpan; var hs = xhat.Span; var ys = y.Span;
        for (int r = 0; r < n; r++)
            for (int j = 0, k = r * d; j < d; j++, k++)
            {
                double h = (double.CreateTruncating(xs[k]) - mean[j]) * inv[j];
                hs[k] = T.CreateTruncating(h);
                ys[k] = T.CreateTruncating(h * scale[j]) + b[j];
            }
        var ld = Tensor<T>.Full(T.CreateTruncating(logDet), n);
        if (!(GradMode.IsEnabled && (x.RequiresGrad || LogGamma.RequiresGrad || Beta.RequiresGrad)))
        {
            xhat.Dispose();
            return (new Var<T>(y), new Var<T>(ld));
        }
        var yVar = new Var<T>(y, [x, LogGamma, Beta], o =>
        {
            var gy = o.Grad!.ReadOnlySpan; var h = xhat.ReadOnlySpan;
            var gg = LogGamma.RequiresGrad ? LogGamma.GradBuffer().Span : default;
            var gb = Beta.RequiresGrad ? Beta.GradBuffer().Span : default;
            for (int r = 0; r < n; r++)
                for (int j = 0, k = r * d; j < d; j++, k++)
                {
                    if (!gb.IsEmpty) gb[j] += gy[k];
                    if (!gg.IsEmpty) gg[j] += T.CreateTruncating(double.CreateTruncating(gy[k]) * double.CreateTruncating(h[k]) * scale[j]);
                }
            if (!x.RequiresGrad) return;
            var gx = x.GradBuffer().Span;
            if (!batchStats)
            {
                for (int r = 0; r < n; r++)
                    for (int j = 0, k = r * d; j < d; j++, k++) gx[k] += T.CreateTruncating(double.CreateTruncating(gy[k]) * scale[j] * inv[j]);
                return;
            }
            // ĝ = gy·exp(γ); ∂L/∂x = inv/N·(N·ĝ − Σĝ − x̂·Σ ĝ·x̂)
            for (int j = 0; j < d; j++)
            {
                double sg = 0, sgh = 0;
                for (int r = 0; r < n; r++)
                {
                    int k = r * d + j;
                    double gh = double.CreateTruncating(gy[k]) * scale[j];
                    sg += gh;
                    sgh += gh * double.CreateTruncating(h[k]);
                }
                sg /= n; sgh /= n;
                for (int r = 0; r < n; r++)
                {
                    int k = r * d + j;
                    double gh = double.CreateTruncating(gy[k]) * scale[j];
                    gx[k] += T.CreateTruncating(inv[j] * (gh - sg - double.CreateTruncating(h[k]) * sgh));
                }
            }
        });
        if (!(GradMode.IsEnabled && (LogGamma.RequiresGrad || (batchStats && x.RequiresGrad))))
            return (yVar, new Var<T>(ld));
        var ldVar = new Var<T>(ld, [x, LogGamma], o =>
        {
            double total = Tensors.Kernels.Reductions.Sum(o.Grad!.ReadOnlySpan);
            if (LogGamma.RequiresGrad)
            {
                var gg = LogGamma.GradBuffer().Span;
                for (int j = 0; j < d; j++) gg[j] += T.CreateTruncating(total);
            }
            if (batchStats && x.RequiresGrad)
            {
                // ld = Σ_j −½·log(σ_j² + ε) + …, ∂σ_j²/∂x_rj = 2(x_rj − μ_j)/N  ⇒  ∂ld/∂x_rj = −x̂_rj·inv_j/N
                var gx = x.GradBuffer().Span; var h = xhat.ReadOnlySpan;
                for (int r = 0; r < n; r++)
                    for (int j = 0, k = r * d; j < d; j++, k++)
                        gx[k] -= T.CreateTruncating(total * double.CreateTruncating(h[k]) * inv[j] / n);
            }
        });
        return (yVar, ldVar);
    }
}
