using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>
/// The test matrix: every transform of <see cref="TransformCatalog"/> in double and float — invertibility (also far
/// out of any bounds), log|det J| against a finite-difference Jacobian in double, inverse log-det, gradient checks
/// reaching every parameter, triangular Jacobians for autoregressive maps, save/load, bad context.
/// </summary>
public class TransformMatrixTests
{
    public static TheoryData<string> Cases => TransformCatalog.Names();

    private const int Rows = 12;

    private static Tensor<T> Inputs<T>(TransformCase c, int rows, int seed, bool farOut = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Rng(seed);
        var t = Tensor<T>.Empty(rows, c.Features);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++)
        {
            double v = c.Domain switch
            {
                InputDomain.UnitInterval => 0.02 + 0.96 * r.NextDouble(),
                InputDomain.Symmetric => -0.95 + 1.9 * r.NextDouble(),
                InputDomain.Circle => -3.0 + 6.0 * r.NextDouble(),
                _ => farOut ? (r.NextDouble() < 0.5 ? -1 : 1) * (5 + 45 * r.NextDouble()) : r.NextNormal(),
            };
            s[i] = T.CreateTruncating(v);
        }
        return t;
    }

    private static Var<T>? Context<T>(TransformCase c, int rows, int seed) where T : unmanaged, IFloatingPointIeee754<T>
        => c.ContextFeatures == 0 ? null : new Var<T>(new Rng(seed + 1000).Normal<T>(rows, c.ContextFeatures));

    /// <summary>Builds, perturbs parameters away from the identity, runs one warm-up batch (data-dependent init), then eval mode.</summary>
    private static Transform<T> Prepare<T>(TransformCase c, Transform<T> t, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (c.RandomizeParameters)
        {
            var r = new Rng(seed + 77);
            foreach (var p in t.Parameters())
            {
                var s = p.Value.Span;
                for (int i = 0; i < s.Length; i++) s[i] += T.CreateTruncating(0.3 * r.NextNormal());
            }
        }
        using (GradMode.Disable()) t.Forward(Inputs<T>(c, 64, seed + 5), Context<T>(c, 64, seed + 5));
        t.Eval();
        return t;
    }

    private static Transform<double> MakeDouble(TransformCase c, int seed = 1) => Prepare(c, c.MakeDouble(new Rng(seed)), seed);
    private static Transform<float> MakeFloat(TransformCase c, int seed = 1) => Prepare(c, c.MakeFloat(new Rng(seed)), seed);

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoundTripDouble(string name)
    {
        var c = TransformCatalog.Get(name);
        var t = MakeDouble(c);
        foreach (bool far in new[] { false, true })
        {
            var x = Inputs<double>(c, Rows, 2, far);
            var ctx = Context<double>(c, Rows, 2);
            var (y, ld) = t.Forward(x, ctx);
            var (xr, ldi) = t.Inverse(y, ctx);
            Assert.True(y.Value.HasShape(Rows, c.Features), $"y shape {y.Value.ShapeString}");
            Assert.True(ld.Value.HasShape(Rows), $"logdet shape {ld.Value.ShapeString}");
            for (int i = 0; i < x.Length; i++)
            {
                Assert.True(double.IsFinite(y.Value[i]), $"{name}: y not finite for x = {x[i]}");
                Assert.True(Math.Abs(x[i] - xr.Value[i]) <= 1e-8 * Math.Max(1, Math.Abs(x[i])), $"{name}: x = {x[i]} came back as {xr.Value[i]} (far = {far})");
            }
            for (int r = 0; r < Rows; r++)
            {
                Assert.True(double.IsFinite(ld.Value[r]), $"{name}: logdet not finite");
                Assert.True(Math.Abs(ld.Value[r] + ldi.Value[r]) <= 1e-8 * Math.Max(1, Math.Abs(ld.Value[r])), $"{name}: forward logdet {ld.Value[r]}, inverse {ldi.Value[r]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoundTripFloat(string name)
    {
        var c = TransformCatalog.Get(name);
        var t = MakeFloat(c);
        var exact = MakeDouble(c); // the same network in double
        foreach (bool far in new[] { false, true })
        {
            var x = Inputs<float>(c, 200, 3, far);
            var ctx = Context<float>(c, 200, 3);
            var (y, _) = t.Forward(x, ctx);
            var (xr, _) = t.Inverse(y, ctx);
            // What conditioning alone forces: the double inverse of the float forward output. Random networks can
            // amplify the forward's float rounding (~1e-7 of y) by 1e3–1e5 (measured over 12 seeds: flow_maf up to
            // 4e-3 far out, maf_rqs_conditional_residual up to 1.3e-2), and no float inverse can do better than that.
            var (xe, _) = exact.Inverse(new Var<double>(y.Value.Cast<double>()), Context<double>(c, 200, 3));
            double worst = 0, forced = 0;
            for (int i = 0; i < x.Length; i++)
            {
                // 1e-4 absolute on standard-normal rows; relative to |x| on the far rows (float has 7 digits); angles have no far rows
                double scale = far && c.Domain != InputDomain.Circle ? Math.Abs(x[i]) : 1;
                double err = Math.Abs(x[i] - xr.Value[i]) / scale;
                worst = Math.Max(worst, double.IsNaN(err) ? double.PositiveInfinity : err);
                double e = Math.Abs(x[i] - xe.Value[i]) / scale;
                if (!double.IsNaN(e)) forced = Math.Max(forced, e);
            }
            // within 1e-4, or within 10× of what an exact inverse reaches from the same rounded output
            Assert.True(worst <= Math.Max(1e-4, 10 * forced), $"{name}: float round trip error {worst}, exact inverse of the float output {forced} (far = {far})");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogDetMatchesFiniteDifferenceJacobian(string name)
    {
        var c = TransformCatalog.Get(name);
        var t = MakeDouble(c);
        int d = c.Features;
        var x = Inputs<double>(c, 4, 4);
        var ctx = Context<double>(c, 4, 4);
        var (_, ld) = t.Forward(x, ctx);
        var jac = Jacobians(t, x, ctx);
        for (int r = 0; r < 4; r++)
        {
            double logDet = LogAbsDet(jac[r], d);
            Assert.True(Math.Abs(logDet - ld.Value[r]) <= 1e-6 * Math.Max(1, Math.Abs(logDet)), $"{name}: row {r}: log|det J| by finite differences {logDet}, transform says {ld.Value[r]}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AutoregressiveJacobianIsTriangular(string name)
    {
        var c = TransformCatalog.Get(name);
        if (!c.Autoregressive) return;
        var t = MakeDouble(c);
        int d = c.Features;
        var x = Inputs<double>(c, 3, 6);
        var ctx = Context<double>(c, 3, 6);
        var jac = Jacobians(t, x, ctx);
        for (int r = 0; r < 3; r++)
        {
            // triangular up to a simultaneous permutation: repeatedly remove a variable that depends on no other remaining one
            var remaining = Enumerable.Range(0, d).ToList();
            while (remaining.Count > 0)
            {
                int pick = remaining.FirstOrDefault(i => remaining.All(j => j == i || Math.Abs(jac[r][i, j]) < 1e-9), -1);
                Assert.True(pick >= 0, $"{name}: Jacobian is not triangular in any order (row {r})");
                remaining.Remove(pick);
            }
        }
    }

    /// <summary>Per row, the D×D Jacobian ∂y/∂x by central differences (h = 1e-6) in double.</summary>
    private static double[][,] Jacobians(Transform<double> t, Tensor<double> x, Var<double>? ctx)
    {
        int n = x.Dim(0), d = x.Dim(1);
        var result = new double[n][,];
        using var _ = GradMode.Disable();
        for (int r = 0; r < n; r++) result[r] = new double[d, d];
        for (int j = 0; j < d; j++)
        {
            var xp = x.Clone(); var xm = x.Clone();
            for (int r = 0; r < n; r++)
            {
                double h = 1e-6 * Math.Max(1, Math.Abs(x[r, j]));
                xp[r, j] += h; xm[r, j] -= h;
            }
            var yp = t.Forward(xp, ctx).Y.Value; var ym = t.Forward(xm, ctx).Y.Value;
            for (int r = 0; r < n; r++)
            {
                double h = xp[r, j] - xm[r, j];
                for (int i = 0; i < d; i++) result[r][i, j] = (yp[r, i] - ym[r, i]) / h;
            }
        }
        return result;
    }

    private static double LogAbsDet(double[,] m, int d)
    {
        var a = (double[,])m.Clone();
        double logDet = 0;
        for (int k = 0; k < d; k++)
        {
            int p = k;
            for (int i = k + 1; i < d; i++) if (Math.Abs(a[i, k]) > Math.Abs(a[p, k])) p = i;
            if (a[p, k] == 0) return double.NegativeInfinity;
            if (p != k) for (int j = 0; j < d; j++) (a[k, j], a[p, j]) = (a[p, j], a[k, j]);
            logDet += Math.Log(Math.Abs(a[k, k]));
            for (int i = k + 1; i < d; i++)
            {
                double f = a[i, k] / a[k, k];
                for (int j = k; j < d; j++) a[i, j] -= f * a[k, j];
            }
        }
        return logDet;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferencesAndReachEveryParameter(string name)
    {
        var c = TransformCatalog.Get(name);
        var t = MakeDouble(c);
        t.Train();
        var xv = new Var<double>(Inputs<double>(c, 5, 7), requiresGrad: true);
        var ctx = c.ContextFeatures == 0 ? null : new Var<double>(new Rng(8).Normal<double>(5, c.ContextFeatures), requiresGrad: true);
        var leaves = new List<Var<double>> { xv };
        if (ctx is not null) leaves.Add(ctx);
        leaves.AddRange(t.Parameters().Where(p => p.Trainable));
        foreach (var dir in new[] { false, true })
        {
            var r = GradCheck.Check(() =>
            {
                var (y, ld) = dir ? t.Inverse(xv, ctx) : t.Forward(xv, ctx);
                return Ops.Add(Ops.SumRows(y), ld);
            }, leaves, eps: 1e-6, atol: 1e-5, rtol: 1e-4);
            Assert.True(r.Passed, $"{name} ({(dir ? "inverse" : "forward")}): {r} (leaf {(r.Leaf >= 0 ? leaves[r.Leaf].Name : "")})");
        }
        foreach (var p in t.NamedParameters())
            Assert.True(p.Value.Grad is not null && p.Value.Grad.ToArray().Any(g => g != 0), $"{name}: parameter {p.Key} received no gradient");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SaveLoadRestoresTheSameMap(string name)
    {
        var c = TransformCatalog.Get(name);
        var t = MakeDouble(c, seed: 1);
        var fresh = c.MakeDouble(new Rng(99));
        fresh.LoadStateDict(t.StateDict());
        fresh.Eval();
        var x = Inputs<double>(c, Rows, 9);
        var ctx = Context<double>(c, Rows, 9);
        var a = t.Forward(x, ctx); var b = fresh.Forward(x, ctx);
        Assert.Equal(a.Y.Value.ToArray(), b.Y.Value.ToArray());
        Assert.Equal(a.LogAbsDet.Value.ToArray(), b.LogAbsDet.Value.ToArray());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadShapesAndContextAreExplained(string name)
    {
        var c = TransformCatalog.Get(name);
        var t = MakeDouble(c);
        var wrong = new Var<double>(Tensor<double>.Zeros(3, c.Features + 1));
        Assert.Contains($"{c.Features}", Assert.Throws<ArgumentException>(() => t.Forward(wrong, Context<double>(c, 3, 1))).Message);
        if (c.ContextFeatures > 0)
        {
            var x = Inputs<double>(c, 3, 1);
            Assert.Contains("context", Assert.Throws<ArgumentException>(() => t.Forward(x)).Message);
            var badCtx = new Var<double>(Tensor<double>.Zeros(3, c.ContextFeatures + 2));
            Assert.Contains("context", Assert.Throws<ArgumentException>(() => t.Forward(x, badCtx)).Message);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EmptyBatchGivesEmptyResults(string name)
    {
        var c = TransformCatalog.Get(name);
        var t = MakeDouble(c);
        var x = new Var<double>(Tensor<double>.Zeros(0, c.Features));
        var ctx = c.ContextFeatures == 0 ? null : new Var<double>(Tensor<double>.Zeros(0, c.ContextFeatures));
        var (y, ld) = t.Forward(x, ctx);
        Assert.True(y.Value.HasShape(0, c.Features));
        Assert.Equal(0, ld.Value.Length);
        var (xr, _) = t.Inverse(y, ctx);
        Assert.True(xr.Value.HasShape(0, c.Features));
    }
}
