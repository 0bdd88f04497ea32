using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Radial flow (Rezende &amp; Mohamed 2015): f(z) = z + β·h(α, r)·(z − z₀), h = 1/(α + r), r = ‖z − z₀‖, with
/// α = softplus(α̂) &gt; 0 and β = −α + softplus(β̂) &gt; −α (invertible). f maps base → data, so
/// <see cref="Inverse"/> applies f, with log|det| = (D − 1)·log(1 + β·h) + log(1 + β·h + β·h′·r)
/// = (D − 1)·log(1 + β/(α + r)) + log(1 + αβ/(α + r)²). <see cref="Forward"/> inverts in closed form: the radius
/// solves r·(1 + β/(α + r)) = ‖y − z₀‖, i.e. r² + (α + β − R)·r − αR = 0, whose positive root is taken in the
/// cancellation-free form; then z = z₀ + (y − z₀)·(α + r)/(α + r + β). Gradients are analytic (implicit in r).
/// Parameters: "z0" [D], "alpha_hat" [1], "beta_hat" [1].
/// </summary>
public sealed class Radial<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the flow with z₀ ~ N(0, 1) and α̂, β̂ ~ N(0, 0.5²), seeded by <paramref name="rng"/>.</summary>
    public Radial(int features, Rng rng) : base(features)
    {
        ArgumentNullException.ThrowIfNull(rng);
        Z0 = RegisterParameter("z0", new Parameter<T>(rng.Normal<T>(features)));
        AlphaHat = RegisterParameter("alpha_hat", new Parameter<T>(Tensor<T>.FromDoubles([0.5 * rng.NextNormal()], 1)));
        BetaHat = RegisterParameter("beta_hat", new Parameter<T>(Tensor<T>.FromDoubles([0.5 * rng.NextNormal()], 1)));
    }

    /// <summary>The centre z₀ [D].</summary>
    public Parameter<T> Z0 { get; }

    /// <summary>Unconstrained α̂ [1]; α = softplus(α̂).</summary>
    public Parameter<T> AlphaHat { get; }

    /// <summary>Unconstrained β̂ [1]; β = −α + softplus(β̂).</summary>
    public Parameter<T> BetaHat { get; }

    /// <summary>The constrained (α, β) actually used.</summary>
    public (double Alpha, double Beta) AlphaBeta()
    {
        double ah = double.CreateTruncating(AlphaHat.Value[0]), bh = double.CreateTruncating(BetaHat.Value[0]);
        double alpha = ElementwiseOp.Softplus(ah);
        return (alpha, -alpha + ElementwiseOp.Softplus(bh));
    }

    private bool RecordParams => GradMode.IsEnabled && (Z0.RequiresGrad || AlphaHat.RequiresGrad || BetaHat.RequiresGrad);

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> z, Var<T>? context = null)
    {
        CheckShapes(z, context);
        int n = z.Value.Dim(0), d = Features;
        var z0 = Doubles(Z0.Value);
        var (alpha, beta) = AlphaBeta();
        var zs = z.Value.ReadOnlySpan;
        var y = Tensor<T>.Empty(n, d);
        var ld = Tensor<T>.Empty(n);
        var ys = y.Span; var lds = ld.Span;
        var rsT = Tensor<double>.Empty(n); var rs = rsT.Span;
        var diff = new double[d];
        for (int r = 0; r < n; r++)
        {
            double rr = 0;
            for (int j = 0; j < d; j++)
            {
                diff[j] = double.CreateTruncating(zs[r * d + j]) - z0[j];
                rr += diff[j] * diff[j];
            }
            rr = Math.Sqrt(rr);
            rs[r] = rr;
            double rho = alpha + rr, c = 1.0 + beta / rho;
            for (int j = 0; j < d; j++) ys[r * d + j] = T.CreateTruncating(z0[j] + c * diff[j]);
            lds[r] = T.CreateTruncating((d - 1) * Math.Log(c) + ElementwiseOp.Log1p(alpha * beta / (rho * rho)));
        }
        if (!(GradMode.IsEnabled && z.RequiresGrad) && !RecordParams)
        {
            rsT.Dispose();
            return (new Var<T>(y), new Var<T>(ld));
        }
        var hub = new Var<T>(Tensor<T>.Empty(0), [z, Z0, AlphaHat, BetaHat], node =>
        {
            var rsV = rsT.ReadOnlySpan;
            var g = node.Grad!.ReadOnlySpan; var zv = z.Value.ReadOnlySpan;
            var gz = z.RequiresGrad ? z.GradBuffer().Span : default;
            var gz0 = new double[d]; double ga = 0, gbeta = 0;
            var e = new double[d];
            for (int r = 0; r < n; r++)
            {
                double rr = rsV[r], rho = alpha + rr, c = 1.0 + beta / rho, ee = 1.0 + alpha * beta / (rho * rho);
                double gl = double.CreateTruncating(g[r * (d + 1) + d]);
                double gc = 0;
                for (int j = 0; j < d; j++)
                {
                    e[j] = double.CreateTruncating(zv[r * d + j]) - z0[j];
                    gc += double.CreateTruncating(g[r * (d + 1) + j]) * e[j];
                }
                // y = z₀ + c·e, c = 1 + β/ρ, ρ = α + r; ld = (D − 1)·log c + log(1 + αβ/ρ²)
                gc += gl * (d - 1) / c;
                double ge = gl / ee;
                double grho = gc * (-beta / (rho * rho)) + ge * (-2.0 * alpha * beta / (rho * rho * rho));
                gbeta += gc / rho + ge * alpha / (rho * rho);
                ga += grho + ge * beta / (rho * rho);
                double gr = rr > 0 ? grho / rr : 0.0;
                for (int j = 0; j < d; j++)
                {
                    double gyj = double.CreateTruncating(g[r * (d + 1) + j]);
                    double gej = c * gyj + gr * e[j];
                    if (!gz.IsEmpty) gz[r * d + j] += T.CreateTruncating(gej);
                    gz0[j] += gyj - gej;
                }
            }
            Finish(gz0, ga, gbeta);
        }, gradShape: [n, d + 1]);
        return Split(hub, y, ld, n, d);
    }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        int n = y.Value.Dim(0), d = Features;
        var z0 = Doubles(Z0.Value);
        var (alpha, beta) = AlphaBeta();
        var ys = y.Value.ReadOnlySpan;
        var z = Tensor<T>.Empty(n, d);
        var ld = Tensor<T>.Empty(n);
        var zs = z.Span; var lds = ld.Span;
        var rsT = Tensor<double>.Empty(n); var rs = rsT.Span;
        var bigRT = Tensor<double>.Empty(n); var bigR = bigRT.Span;
        var ssT = Tensor<double>.Empty(n); var ss = ssT.Span;
        var diff = new double[d];
        for (int r = 0; r < n; r++)
        {
            double R = 0;
            for (int j = 0; j < d; j++)
            {
                diff[j] = double.CreateTruncating(ys[r * d + j]) - z0[j];
                R += diff[j] * diff[j];
            }
            R = Math.Sqrt(R);
            double rr = Radius(R, alpha, beta, out double s);
            rs[r] = rr; bigR[r] = R; ss[r] = s;
            double rho = alpha + rr, k = rho / (rho + beta);
            for (int j = 0; j < d; j++) zs[r * d + j] = T.CreateTruncating(z0[j] + k * diff[j]);
            lds[r] = T.CreateTruncating((d - 1) * Math.Log(k) - ElementwiseOp.Log1p(alpha * beta / (rho * rho)));
        }
        if (!(GradMode.IsEnabled && y.RequiresGrad) && !RecordParams)
        {
            rsT.Dispose(); bigRT.Dispose(); ssT.Dispose();
            return (new Var<T>(z), new Var<T>(ld));
        }
        var hub = new Var<T>(Tensor<T>.Empty(0), [y, Z0, AlphaHat, BetaHat], node =>
        {
            var rsV = rsT.ReadOnlySpan; var bigRV = bigRT.ReadOnlySpan; var ssV = ssT.ReadOnlySpan;
            var g = node.Grad!.ReadOnlySpan; var yv = y.Value.ReadOnlySpan;
            var gy = y.RequiresGrad ? y.GradBuffer().Span : default;
            var gz0 = new double[d]; double ga = 0, gbeta = 0;
            var e = new double[d];
            for (int r = 0; r < n; r++)
            {
                double rr = rsV[r], R = bigRV[r], s = ssV[r], rho = alpha + rr, pb = rho + beta, k = rho / pb;
                double ee = 1.0 + alpha * beta / (rho * rho);
                double gl = double.CreateTruncating(g[r * (d + 1) + d]);
                double gk = 0;
                for (int j = 0; j < d; j++)
                {
                    e[j] = double.CreateTruncating(yv[r * d + j]) - z0[j];
                    gk += double.CreateTruncating(g[r * (d + 1) + j]) * e[j];
                }
                // z = z₀ + k·e, k = ρ/(ρ + β); ld = (D − 1)·log k − log(1 + αβ/ρ²); r = r(R, α, β)
                gk += gl * (d - 1) / k;
                double ge = -gl / ee;
                double grho = gk * beta / (pb * pb) + ge * (-2.0 * alpha * beta / (rho * rho * rho));
                gbeta += gk * (-rho / (pb * pb)) + ge * alpha / (rho * rho);
                ga += grho + ge * beta / (rho * rho);
                // implicit: ∂r/∂R = (r + α)/S, ∂r/∂α = (R − r)/S, ∂r/∂β = −r/S
                double gR = 0;
                if (s > 0)
                {
                    gR = grho * (rr + alpha) / s;
                    ga += grho * (R - rr) / s;
                    gbeta += grho * (-rr / s);
                }
                double gRn = R > 0 ? gR / R : 0.0;
                for (int j = 0; j < d; j++)
                {
                    double gzj = double.CreateTruncating(g[r * (d + 1) + j]);
                    double gej = k * gzj + gRn * e[j];
                    if (!gy.IsEmpty) gy[r * d + j] += T.CreateTruncating(gej);
                    gz0[j] += gzj - gej;
                }
            }
            Finish(gz0, ga, gbeta);
        }, gradShape: [n, d + 1]);
        return Split(hub, z, ld, n, d);
    }

    /// <summary>
    /// The positive root r of r² + B·r − αR = 0 (B = α + β − R), evaluated without cancellation;
    /// <paramref name="s"/> = √(B² + 4αR) = ∂F/∂r at the root.
    /// </summary>
    internal static double Radius(double bigR, double alpha, double beta, out double s)
    {
        double bb = alpha + beta - bigR;
        s = Math.Sqrt(bb * bb + 4.0 * alpha * bigR);
        if (bb < 0) return 0.5 * (s - bb);
        double den = bb + s;
        return den > 0 ? 2.0 * alpha * bigR / den : 0.0;
    }

    private void Finish(double[] gz0, double gAlpha, double gBeta)
    {
        if (Z0.RequiresGrad)
        {
            var g = Z0.GradBuffer().Span;
            for (int j = 0; j < gz0.Length; j++) g[j] += T.CreateTruncating(gz0[j]);
        }
        // α = softplus(α̂), β = −α + softplus(β̂)
        double ah = double.CreateTruncating(AlphaHat.Value[0]), bh = double.CreateTruncating(BetaHat.Value[0]);
        if (AlphaHat.RequiresGrad) AlphaHat.GradBuffer().Span[0] += T.CreateTruncating((gAlpha - gBeta) * ElementwiseOp.Sigmoid(ah));
        if (BetaHat.RequiresGrad) BetaHat.GradBuffer().Span[0] += T.CreateTruncating(gBeta * ElementwiseOp.Sigmoid(bh));
    }

    private static double[] Doubles(Tensor<T> t)
    {
        var s = t.ReadOnlySpan;
        var a = new double[s.Length];
        for (int i = 0; i < a.Length; i++) a[i] = double.CreateTruncating(s[i]);
        return a;
    }

    private static (Var<T>, Var<T>) Split(Var<T> hub, Tensor<T> value, Tensor<T> logDet, int n, int d)
    {
        var a = new Var<T>(value, [hub], o =>
        {
            var s = o.Grad!.ReadOnlySpan; var dst = hub.GradBuffer().Span;
            for (int r = 0; r < n; r++)
                for (int j = 0; j < d; j++) dst[r * (d + 1) + j] += s[r * d + j];
        });
        var l = new Var<T>(logDet, [hub], o =>
        {
            var s = o.Grad!.ReadOnlySpan; var dst = hub.GradBuffer().Span;
            for (int r = 0; r < n; r++) dst[r * (d + 1) + d] += s[r];
        });
        return (a, l);
    }
}
