using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Planar flow (Rezende &amp; Mohamed 2015) in this library's direction convention: the planar map
/// f(z) = z + û·tanh(wᵀz + b) takes base → data, so <see cref="Inverse"/> applies f (log|det| = log|1 + ûᵀψ|,
/// ψ = (1 − tanh²(wᵀz + b))·w) and <see cref="Forward"/> applies f⁻¹: it solves the monotone scalar equation
/// α + (wᵀû)·tanh(α + b) = wᵀy for α = wᵀz by safeguarded Newton/bisection to full precision, then
/// z = y − û·tanh(α + b); gradients through the root use implicit differentiation. Invertibility is enforced with
/// û = u + (m(wᵀu) − wᵀu)·w/‖w‖², m(a) = −1 + softplus(a), so that wᵀû &gt; −1.
/// Parameters: "u" [D], "w" [D], "b" [1].
/// </summary>
public sealed class Planar<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the flow with u and w drawn uniformly from ±1/√D (seeded by <paramref name="rng"/>) and b = 0.</summary>
    public Planar(int features, Rng rng) : base(features)
    {
        ArgumentNullException.ThrowIfNull(rng);
        double bound = 1.0 / Math.Sqrt(features);
        U = RegisterParameter("u", new Parameter<T>(rng.Uniform<T>([features], -bound, bound)));
        W = RegisterParameter("w", new Parameter<T>(rng.Uniform<T>([features], -bound, bound)));
        B = RegisterParameter("b", new Parameter<T>(Tensor<T>.Zeros(1)));
    }

    /// <summary>The unconstrained direction u [D] (the map uses û, see <see cref="ConstrainedU"/>).</summary>
    public Parameter<T> U { get; }

    /// <summary>The normal w [D] of the hyperplane.</summary>
    public Parameter<T> W { get; }

    /// <summary>The offset b [1].</summary>
    public Parameter<T> B { get; }

    /// <summary>The direction û actually used (wᵀû &gt; −1 always).</summary>
    public double[] ConstrainedU()
    {
        var u = ToDoubles(U.Value); var w = ToDoubles(W.Value);
        return Constrain(u, w, out _, out _, out _);
    }

    private static double[] ToDoubles(Tensor<T> t)
    {
        var s = t.ReadOnlySpan;
        var a = new double[s.Length];
        for (int i = 0; i < a.Length; i++) a[i] = double.CreateTruncating(s[i]);
        return a;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>û = u + k·w with k = (m(c) − c)/‖w‖², c = wᵀu.</summary>
    private static double[] Constrain(double[] u, double[] w, out double c, out double n2, out double k)
    {
        c = Dot(w, u);
        n2 = Dot(w, w);
        // m(c) − c = softplus(c) − 1 − c = softplus(−c) − 1 (no cancellation for large c)
        k = n2 > 0 ? (ElementwiseOp.Softplus(-c) - 1.0) / n2 : 0.0;
        var uh = new double[u.Length];
        for (int i = 0; i < u.Length; i++) uh[i] = u[i] + k * w[i];
        return uh;
    }

    /// <summary>Adds the gradient of û into u and w (given dL/dû).</summary>
    private void BackpropConstraint(double[] guh, double[] u, double[] w, double c, double n2, double k)
    {
        int d = Features;
        double s = Dot(guh, w);
        // k = (softplus(−c) − 1)/n2: ∂k/∂c = −σ(−c)/n2, ∂k/∂n2 = −k/n2
        double kc = n2 > 0 ? -ElementwiseOp.Sigmoid(-c) / n2 : 0.0;
        double kn = n2 > 0 ? -k / n2 : 0.0;
        if (U.RequiresGrad)
        {
            var gu = U.GradBuffer().Span;
            for (int i = 0; i < d; i++) gu[i] += T.CreateTruncating(guh[i] + s * kc * w[i]);
        }
        if (W.RequiresGrad)
        {
            var gw = W.GradBuffer().Span;
            for (int i = 0; i < d; i++) gw[i] += T.CreateTruncating(k * guh[i] + s * (kc * u[i] + 2.0 * kn * w[i]));
        }
    }

    private bool RecordParams => GradMode.IsEnabled && (U.RequiresGrad || W.RequiresGrad || B.RequiresGrad);

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> z, Var<T>? context = null)
    {
        CheckShapes(z, context);
        int n = z.Value.Dim(0), d = Features;
        var u = ToDoubles(U.Value); var w = ToDoubles(W.Value);
        double b = double.CreateTruncating(B.Value[0]);
        var uh = Constrain(u, w, out double c, out double n2, out double k);
        double v = Dot(w, uh);
        var zs = z.Value.ReadOnlySpan;
        var y = Tensor<T>.Empty(n, d);
        var ld = Tensor<T>.Empty(n);
        var ys = y.Span; var lds = ld.Span;
        var hsT = Tensor<double>.Empty(n); var hs = hsT.Span;
        var qsT = Tensor<double>.Empty(n); var qs = qsT.Span;
        for (int r = 0; r < n; r++)
        {
            double a = b;
            for (int j = 0; j < d; j++) a += w[j] * double.CreateTruncating(zs[r * d + j]);
            double h = Math.Tanh(a), q = Math.Exp(ElementwiseOp.LogSech2(a));
            hs[r] = h; qs[r] = q;
            for (int j = 0; j < d; j++) ys[r * d + j] = T.CreateTruncating(double.CreateTruncating(zs[r * d + j]) + uh[j] * h);
            lds[r] = T.CreateTruncating(ElementwiseOp.Log1p(v * q));
        }
        if (!(GradMode.IsEnabled && z.RequiresGrad) && !RecordParams)
        {
            hsT.Dispose(); qsT.Dispose();
            return (new Var<T>(y), new Var<T>(ld));
        }

        var hub = new Var<T>(Tensor<T>.Empty(0), [z, U, W, B], node =>
        {
            var hsV = hsT.ReadOnlySpan; var qsV = qsT.ReadOnlySpan;
            var g = node.Grad!.ReadOnlySpan; // [N, D + 1]
            var guh = new double[d]; var gw = new double[d]; double gb = 0;
            var gz = z.RequiresGrad ? z.GradBuffer().Span : default;
            var zv = z.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++)
            {
                double h = hsV[r], q = qsV[r], den = 1.0 + v * q, gl = double.CreateTruncating(g[r * (d + 1) + d]);
                double gh = 0;
                for (int j = 0; j < d; j++) gh += double.CreateTruncating(g[r * (d + 1) + j]) * uh[j];
                double ga = gh * q + gl * (-2.0 * h * q * v / den);
                double gq = gl * q / den;
                for (int j = 0; j < d; j++)
                {
                    double gyj = double.CreateTruncating(g[r * (d + 1) + j]);
                    double zj = double.CreateTruncating(zv[r * d + j]);
                    if (!gz.IsEmpty) gz[r * d + j] += T.CreateTruncating(gyj + ga * w[j]);
                    guh[j] += gyj * h + gq * w[j];
                    gw[j] += ga * zj + gq * uh[j];
                }
                gb += ga;
            }
            Finish(guh, gw, gb, u, w, c, n2, k);
        }, gradShape: [n, d + 1]);
        return Split(hub, y, ld, n, d);
    }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        int n = y.Value.Dim(0), d = Features;
        var u = ToDoubles(U.Value); var w = ToDoubles(W.Value);
        double b = double.CreateTruncating(B.Value[0]);
        var uh = Constrain(u, w, out double c, out double n2, out double k);
        double v = Dot(w, uh);
        var ys = y.Value.ReadOnlySpan;
        var z = Tensor<T>.Empty(n, d);
        var ld = Tensor<T>.Empty(n);
        var zs = z.Span; var lds = ld.Span;
        var hsT = Tensor<double>.Empty(n); var hs = hsT.Span;
        var qsT = Tensor<double>.Empty(n); var qs = qsT.Span;
        for (int r = 0; r < n; r++)
        {
            double t = 0;
            for (int j = 0; j < d; j++) t += w[j] * double.CreateTruncating(ys[r * d + j]);
            double alpha = SolveAlpha(t, v, b);
            double h = Math.Tanh(alpha + b), q = Math.Exp(ElementwiseOp.LogSech2(alpha + b));
            hs[r] = h; qs[r] = q;
            for (int j = 0; j < d; j++) zs[r * d + j] = T.CreateTruncating(double.CreateTruncating(ys[r * d + j]) - uh[j] * h);
            lds[r] = T.CreateTruncating(-ElementwiseOp.Log1p(v * q));
        }
        if (!(GradMode.IsEnabled && y.RequiresGrad) && !RecordParams)
        {
            hsT.Dispose(); qsT.Dispose();
            return (new Var<T>(z), new Var<T>(ld));
        }

        var hub = new Var<T>(Tensor<T>.Empty(0), [y, U, W, B], node =>
        {
            var hsV = hsT.ReadOnlySpan; var qsV = qsT.ReadOnlySpan;
            var g = node.Grad!.ReadOnlySpan; // [N, D + 1]
            var guh = new double[d]; var gw = new double[d]; double gb = 0;
            var gy = y.RequiresGrad ? y.GradBuffer().Span : default;
            var yv = y.Value.ReadOnlySpan;
            for (int r = 0; r < n; r++)
            {
                double h = hsV[r], q = qsV[r], den = 1.0 + v * q, gl = double.CreateTruncating(g[r * (d + 1) + d]);
                // z = y − û·h(a), a = α + b; ld = −log(1 + v·q(a)); α solves α + v·tanh(α + b) = wᵀy
                double gh = 0;
                for (int j = 0; j < d; j++) gh -= double.CreateTruncating(g[r * (d + 1) + j]) * uh[j];
                double ga = gh * q + gl * 2.0 * v * h * q / den;
                double gv = -gl * q / den;
                double gt = ga / den;           // ∂α/∂t = 1/D
                gv += -ga * h / den;            // ∂α/∂v = −h/D
                gb += ga / den;                 // ∂a/∂b = 1 − v·q/D = 1/D
                for (int j = 0; j < d; j++)
                {
                    double gzj = double.CreateTruncating(g[r * (d + 1) + j]);
                    double yj = double.CreateTruncating(yv[r * d + j]);
                    if (!gy.IsEmpty) gy[r * d + j] += T.CreateTruncating(gzj + gt * w[j]);
                    guh[j] += -gzj * h + gv * w[j];
                    gw[j] += gt * yj + gv * uh[j];
                }
            }
            Finish(guh, gw, gb, u, w, c, n2, k);
        }, gradShape: [n, d + 1]);
        return Split(hub, z, ld, n, d);
    }

    private void Finish(double[] guh, double[] gw, double gb, double[] u, double[] w, double c, double n2, double k)
    {
        int d = Features;
        if (W.RequiresGrad)
        {
            var g = W.GradBuffer().Span;
            for (int j = 0; j < d; j++) g[j] += T.CreateTruncating(gw[j]);
        }
        if (B.RequiresGrad) B.GradBuffer().Span[0] += T.CreateTruncating(gb);
        BackpropConstraint(guh, u, w, c, n2, k);
    }

    /// <summary>The two results as views forwarding their gradients into the hub's [N, D + 1] gradient.</summary>
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

    /// <summary>
    /// Solves α + v·tanh(α + b) = t (v &gt; −1, so the left side is strictly increasing) by Newton steps kept inside
    /// the bracket [t − |v|, t + |v|], falling back to bisection, to full double precision.
    /// </summary>
    internal static double SolveAlpha(double t, double v, double b)
    {
        double lo = t - Math.Abs(v), hi = t + Math.Abs(v);
        if (lo == hi) return t;
        double alpha = Math.Clamp(t - v * Math.Tanh(t + b), lo, hi);
        for (int it = 0; it < 300; it++)
        {
            double a = alpha + b, g = alpha + v * Math.Tanh(a) - t;
            if (g == 0) return alpha;
            if (g < 0) lo = alpha; else hi = alpha;
            double gp = 1.0 + v * Math.Exp(ElementwiseOp.LogSech2(a));
            double next = alpha - g / gp;
            if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
            if (Math.Abs(next - alpha) <= 1e-16 * Math.Max(1.0, Math.Abs(alpha)))
                return next;
            if (hi - lo <= 4e-16 * Math.Max(1.0, Math.Abs(alpha))) return next;
            alpha = next;
        }
        return alpha;
    }
}
