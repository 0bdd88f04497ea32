using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Continuous;

/// <summary>
/// Explicit Runge–Kutta integration of dy/dt = f(t, y) for a state of several tensors with rows (e.g. x [N, D] and a
/// log-determinant [N]): adaptive Dormand–Prince 5(4) (FSAL, Hairer's initial step, per-row RMS error, the largest
/// row deciding) or fixed-step RK4. Stages are combined by one fused op, so with gradients enabled the solve is
/// recorded and differentiated like any other computation (discretise-then-differentiate; the step sizes are
/// constants of the graph). Without gradients every step's temporaries go back to the pool.
/// </summary>
internal static class OdeIntegrator
{
    /// <summary>The right-hand side f(t, y).</summary>
    internal delegate Var<T>[] Field<T>(double t, Var<T>[] y) where T : unmanaged, IFloatingPointIeee754<T>;

    // Dormand–Prince 5(4) (DormandPrinceTableau): nodes, stage weights (the last row the 5th-order weights), error weights b − b̂
    internal static readonly double[] C = DormandPrinceTableau.C, E = DormandPrinceTableau.E;
    internal static readonly double[][] A = DormandPrinceTableau.A;

    /// <summary>y(<paramref name="t1"/>) from y(<paramref name="t0"/>) = <paramref name="y0"/> (t1 &lt; t0 integrates backwards).</summary>
    public static Var<T>[] Solve<T>(Field<T> f, Var<T>[] y0, double t0, double t1, ContinuousFlowOptions options) where T : unmanaged, IFloatingPointIeee754<T>
        => options.Solver == OdeSolver.RungeKutta4 ? Rk4(f, y0, t0, t1, options.Steps) : DormandPrince(f, y0, t0, t1, options);

    private static Var<T>[] Rk4<T>(Field<T> f, Var<T>[] y0, double t0, double t1, int steps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double h = (t1 - t0) / steps;
        bool pooled = !GradMode.IsEnabled;
        var y = y0;
        for (int s = 0; s < steps; s++)
        {
            double t = t0 + s * h;
            Var<T>[] next;
            using (var scope = pooled ? TensorScope.Begin() : null)
            {
                var k1 = f(t, y);
                var k2 = f(t + h / 2, Combine(y, [h / 2], [k1]));
                var k3 = f(t + h / 2, Combine(y, [h / 2], [k2]));
                var k4 = f(t + h, Combine(y, [h], [k3]));
                next = Combine(y, [h / 6, h / 3, h / 3, h / 6], [k1, k2, k3, k4]);
                if (pooled) next = Keep(next);
            }
            if (pooled && s > 0) Release(y);
            y = next;
        }
        return pooled ? Adopt(y, y0) : y;
    }

    private static Var<T>[] DormandPrince<T>(Field<T> f, Var<T>[] y0, double t0, double t1, ContinuousFlowOptions o) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double span = t1 - t0, dir = Math.Sign(span);
        if (span == 0) return y0;
        bool pooled = !GradMode.IsEnabled;
        int rows = y0[0].Value.Dim(0);
        if (rows == 0) return y0;
        var y = y0;
        var k1 = f(t0, y0);
        if (pooled) k1 = Keep(k1);
        double h = dir * Math.Min(Math.Abs(span), InitialStep(f, y0, k1, t0, span, o));
        double t = t0;
        int attempts = 0;
        while (dir * (t1 - t) > 0)
        {
            if (dir * (t + h - t1) > 0) h = t1 - t;
            DormandPrinceStepControl.CheckStep(o, t0, t1, t, h, ++attempts, typeof(T).Name);
            Var<T>[] yNew = y, k7 = k1;
            double err;
            using (var scope = pooled ? TensorScope.Begin() : null)
            {
                var k = new Var<T>[7][];
                k[0] = k1;
                for (int s = 1; s < 7; s++)
                {
                    // the last stage is the 5th-order solution itself, evaluated at t + h (first same as last)
                    var stage = Combine(y, [.. A[s].Select(a => h * a)], k[..s]);
                    if (s == 6) yNew = stage;
                    k[s] = f(t + C[s] * h, stage);
                }
                err = ErrorNorm(y, yNew, k, h, rows, o);
                if (err <= 1)
                {
                    k7 = k[6];
                    if (pooled) { yNew = Keep(yNew); k7 = Keep(k7); }
                }
            }
            if (err <= 1)
            {
                t += h;
                if (pooled)
                {
                    if (!ReferenceEquals(y, y0)) Release(y);
                    Release(k1);
                }
                y = yNew; k1 = k7;
            }
            h = DormandPrinceStepControl.NextStep(h, err);
        }
        if (pooled) Release(k1);
        return pooled ? Adopt(y, y0) : y;
    }

    /// <summary>Hairer, Nørsett &amp; Wanner's starting step from the size of y, f(t0, y) and f after a trial Euler step.</summary>
    private static double InitialStep<T>(Field<T> f, Var<T>[] y0, Var<T>[] f0, double t0, double span, ContinuousFlowOptions o) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var _ = GradMode.Disable();
        using var scope = TensorScope.Begin();
        int rows = y0[0].Value.Dim(0);
        double d0 = Norm(y0, y0, rows, o), d1 = Norm(f0, y0, rows, o);
        double h0 = DormandPrinceStepControl.TrialStep(d0, d1, span);
        var f1 = f(t0 + Math.Sign(span) * h0, Combine(y0, [Math.Sign(span) * h0], [f0]));
        var diff = new Var<T>[f0.Length];
        for (int i = 0; i < f0.Length; i++) diff[i] = Ops.Sub(f1[i], f0[i]);
        return DormandPrinceStepControl.InitialStep(h0, d1, Norm(diff, y0, rows, o) / h0);
    }

    /// <summary>max over rows of the RMS of v / (atol + rtol·|y|) over the row's state.</summary>
    private static double Norm<T>(Var<T>[] v, Var<T>[] y, int rows, ContinuousFlowOptions o) where T : unmanaged, IFloatingPointIeee754<T>
        => RowNorm(y, rows, o, (s, i) => (double.CreateTruncating(v[s].Value[i]), Math.Abs(double.CreateTruncating(y[s].Value[i]))));

    /// <summary>The embedded error h·Σ eᵢkᵢ scaled by atol + rtol·max(|y|, |y_new|): max over rows of the per-row RMS (NaN counts as a failed step).</summary>
    private static double ErrorNorm<T>(Var<T>[] y, Var<T>[] yNew, Var<T>[][] k, double h, int rows, ContinuousFlowOptions o) where T : unmanaged, IFloatingPointIeee754<T>
        => RowNorm(y, rows, o, (s, i) =>
        {
            double e = 0;
            for (int j = 0; j < 7; j++)
                if (E[j] != 0) e += E[j] * double.CreateTruncating(k[j][s].Value[i]);
            return (h * e, Math.Max(Math.Abs(double.CreateTruncating(y[s].Value[i])), Math.Abs(double.CreateTruncating(yNew[s].Value[i]))));
        });

    /// <summary>
    /// max over rows of the RMS, over the row's entries of every state tensor, of value / (atol + rtol·size), where
    /// <paramref name="entry"/>(s, i) gives value and size of flat entry i of state tensor s; +∞ when a row's RMS is NaN.
    /// </summary>
    private static double RowNorm<T>(Var<T>[] states, int rows, ContinuousFlowOptions o, Func<int, int, (double Value, double Size)> entry) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double worst = 0;
        for (int r = 0; r < rows; r++)
        {
            double sum = 0; int count = 0;
            for (int s = 0; s < states.Length; s++)
            {
                int w = states[s].Value.Length / rows;
                for (int j = 0; j < w; j++)
                {
                    var (value, size) = entry(s, r * w + j);
                    double q = value / (o.AbsoluteTolerance + o.RelativeTolerance * size);
                    sum += q * q;
                }
                count += w;
            }
            double rms = Math.Sqrt(sum / count);
            if (double.IsNaN(rms)) return double.PositiveInfinity;
            worst = Math.Max(worst, rms);
        }
        return worst;
    }

    /// <summary>yₛ + Σᵢ cᵢ·kᵢₛ for every state tensor s, one fused op per tensor (backward: g to y, cᵢ·g to each kᵢ).</summary>
    private static Var<T>[] Combine<T>(Var<T>[] y, double[] c, Var<T>[][] k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = new Var<T>[y.Length];
        for (int s = 0; s < y.Length; s++)
        {
            var ys = y[s];
            var value = ys.Value.Clone();
            var dst = value.Span;
            var inputs = new List<Var<T>>(k.Length + 1) { ys };
            var coeffs = new List<T>(k.Length);
            for (int i = 0; i < k.Length; i++)
            {
                if (c[i] == 0) continue;
                T ci = T.CreateTruncating(c[i]);
                var src = k[i][s].Value.ReadOnlySpan;
                for (int j = 0; j < dst.Length; j++) dst[j] += ci * src[j];
                inputs.Add(k[i][s]); coeffs.Add(ci);
            }
            if (!GradMode.IsEnabled || !inputs.Any(v => v.RequiresGrad)) { result[s] = new Var<T>(value); continue; }
            var parts = inputs.ToArray(); var weights = coeffs.ToArray();
            result[s] = new Var<T>(value, parts, node =>
            {
                var g = node.Grad!.ReadOnlySpan;
                if (parts[0].RequiresGrad)
                {
                    var gy = parts[0].GradBuffer().Span;
                    for (int j = 0; j < g.Length; j++) gy[j] += g[j];
                }
                for (int i = 1; i < parts.Length; i++)
                {
                    if (!parts[i].RequiresGrad) continue;
                    var gk = parts[i].GradBuffer().Span; T ci = weights[i - 1];
                    for (int j = 0; j < g.Length; j++) gk[j] += ci * g[j];
                }
            });
        }
        return result;
    }

    /// <summary>Untracked copies of <paramref name="v"/> that outlive the step's scope (copies, since a value may be a view of a pooled buffer).</summary>
    private static Var<T>[] Keep<T>(Var<T>[] v) where T : unmanaged, IFloatingPointIeee754<T>
        => [.. v.Select(x => new Var<T>(x.Value.Clone().Untrack()))];

    private static void Release<T>(Var<T>[] v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var x in v) x.Value.Dispose();
    }

    /// <summary>Copies the final (untracked) state into tensors of the caller's scope and releases it; the start state is returned as given.</summary>
    private static Var<T>[] Adopt<T>(Var<T>[] y, Var<T>[] y0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (ReferenceEquals(y, y0)) return y;
        var result = new Var<T>[y.Length];
        for (int s = 0; s < y.Length; s++) { result[s] = new Var<T>(y[s].Value.Clone()); y[s].Value.Dispose(); }
        return result;
    }
}
