using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>
/// The incremental MADE inverse (about one MADE pass) against the recorded D-pass loop: same samples and log-dets
/// for affine and spline MAFs, every order, random hidden degrees, context, D = 1 … 18, after parameter updates and
/// LoadStateDict, and for the IAF density.
/// </summary>
public class IncrementalMadeTests
{
    private const double FloatTol = 1e-5, DoubleTol = 1e-12;

    private static ConditionerOptions Options(int hidden = 16, int layers = 2, Activation act = Activation.Relu)
        => new() { HiddenFeatures = hidden, HiddenLayers = layers, Activation = act };

    private static AutoregressiveTransform<T> Affine<T>(int d, int seed, int ctx = 0, MadeOrder order = MadeOrder.Natural, int[]? custom = null,
        ConditionerOptions? o = null) where T : unmanaged, IFloatingPointIeee754<T>
        => new MaskedAffineAutoregressive<T>(d, new Rng(seed), ctx, o ?? Options(), order, custom);

    private static AutoregressiveTransform<T> Spline<T>(int d, int seed, int ctx = 0, MadeOrder order = MadeOrder.Natural, int[]? custom = null,
        ConditionerOptions? o = null) where T : unmanaged, IFloatingPointIeee754<T>
        => new MaskedSplineAutoregressive<T>(d, new RationalQuadraticSpline(5, SplineDomain.Symmetric(3)), new Rng(seed), ctx, o ?? Options(), order, custom);

    /// <summary>Random (non-identity) output weights so that every feature really depends on the earlier ones.</summary>
    private static void Perturb<T>(Module<T> module, int seed, double std = 0.2) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(seed);
        foreach (var p in module.Parameters())
        {
            var noise = Tensor<T>.Empty(p.Value.Length).Untrack();
            rng.Normal<T>(noise.Span, 0, std);
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += noise[i];
            noise.Dispose();
        }
    }

    /// <summary>The D-pass loop: recorded because y requires gradients.</summary>
    private static (double[] X, double[] LogDet) Loop<T>(Transform<T> t, Tensor<T> y, Tensor<T>? ctx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (x, ld) = t.Inverse(new Var<T>(y.Clone(), requiresGrad: true), ctx is null ? null : new Var<T>(ctx));
        return (x.Value.ToDoubleArray(), ld.Value.ToDoubleArray());
    }

    private static (double[] X, double[] LogDet) Fast<T>(Transform<T> t, Tensor<T> y, Tensor<T>? ctx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var _ = GradMode.Disable();
        var (x, ld) = t.Inverse(new Var<T>(y), ctx is null ? null : new Var<T>(ctx));
        return (x.Value.ToDoubleArray(), ld.Value.ToDoubleArray());
    }

    private static void Close(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(err <= tol, $"{what}[{i}]: loop {expected[i]:R}, incremental {actual[i]:R} (relative error {err:E2} > {tol:E0})");
        }
    }

    private static void Check<T>(AutoregressiveTransform<T> t, int n, int seed, double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var incremental = IncrementalMade<T>.TryCreate(t.Made);
        Assert.NotNull(incremental); // the fast path is really taken
        var rng = new Rng(seed);
        var y = rng.Normal<T>(n, t.Features).Untrack();
        var ctx = t.ContextFeatures > 0 ? rng.Normal<T>(n, t.ContextFeatures).Untrack() : null;
        var loop = Loop(t, y, ctx);
        var fast = Fast(t, y, ctx);
        Close(loop.X, fast.X, tol, "x");
        Close(loop.LogDet, fast.LogDet, tol, "log|det|");
        // round trip: Forward of the incremental inverse gives y back
        using var _ = GradMode.Disable();
        var (xt, ldf) = t.Forward(new Var<T>(Tensor<T>.From(fast.X.Select(v => T.CreateTruncating(v)).ToArray(), n, t.Features)), ctx is null ? null : new Var<T>(ctx));
        Close(y.ToDoubleArray(), xt.Value.ToDoubleArray(), typeof(T) == typeof(float) ? 1e-3 : 1e-8, "round trip");
        Close(fast.LogDet.Select(v => -v).ToArray(), ldf.Value.ToDoubleArray(), typeof(T) == typeof(float) ? 1e-3 : 1e-8, "round-trip log|det|");
    }

    public static TheoryData<int, MadeOrder, int, bool> Cases => new()
    {
        { 1, MadeOrder.Natural, 0, false },
        { 1, MadeOrder.Natural, 2, true },
        { 2, MadeOrder.Natural, 0, false },
        { 2, MadeOrder.Reversed, 1, true },
        { 5, MadeOrder.Natural, 0, true },
        { 5, MadeOrder.Reversed, 0, false },
        { 5, MadeOrder.Random, 3, false },
        { 5, MadeOrder.Random, 0, true },
        { 18, MadeOrder.Reversed, 0, false },
        { 18, MadeOrder.Random, 2, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Affine_MatchesLoop(int d, MadeOrder order, int ctx, bool threeLayers)
    {
        var o = Options(layers: threeLayers ? 3 : 2, act: threeLayers ? Activation.Tanh : Activation.Relu);
        var td = Affine<double>(d, 3, ctx, order, o: o); Perturb(td, 4);
        Check(td, 37, 5, DoubleTol);
        var tf = Affine<float>(d, 3, ctx, order, o: o); Perturb(tf, 4);
        Check(tf, 37, 5, FloatTol);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Spline_MatchesLoop(int d, MadeOrder order, int ctx, bool threeLayers)
    {
        var o = Options(layers: threeLayers ? 3 : 2, act: threeLayers ? Activation.Silu : Activation.Relu);
        var td = Spline<double>(d, 6, ctx, order, o: o); Perturb(td, 7, 0.1);
        Check(td, 29, 8, DoubleTol);
        var tf = Spline<float>(d, 6, ctx, order, o: o); Perturb(tf, 7, 0.1);
        Check(tf, 29, 8, FloatTol);
    }

    [Fact]
    public void CustomOrder_OneHiddenLayer_MatchesLoop()
    {
        var t = Affine<double>(6, 1, 2, custom: [3, 0, 5, 1, 4, 2], o: Options(hidden: 9, layers: 1));
        Perturb(t, 2);
        Check(t, 21, 3, DoubleTol);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(18)]
    public void Evaluate_EqualsMadeForward_RandomHiddenDegrees(int d)
    {
        foreach (int ctx in new[] { 0, 2 })
        {
            var made = new Made<double>(d, 24, new Rng(d + ctx), hiddenLayers: 3, outputMultiplier: 3, contextFeatures: ctx, order: MadeOrder.Random,
                randomHiddenDegrees: true, activation: Activation.Elu);
            Perturb(made, 9);
            using var incremental = IncrementalMade<double>.TryCreate(made);
            Assert.NotNull(incremental);
            var rng = new Rng(10);
            var x = rng.Normal<double>(13, d);
            var c = ctx > 0 ? rng.Normal<double>(13, ctx) : null;
            var expected = made.Forward(new Var<double>(x), c is null ? null : new Var<double>(c)).Value.ToDoubleArray();
            Close(expected, incremental.Evaluate(x, c).ToDoubleArray(), DoubleTol, "MADE output");
        }
    }

    [Fact]
    public void RandomHiddenDegrees_ViaLoadStateDict_MatchesLoop()
    {
        // a MAF whose MADE gets random hidden degrees (and their masks, order and weights) through LoadStateDict
        int d = 7;
        foreach (bool spline in new[] { false, true })
        {
            var t = spline ? Spline<double>(d, 11, 2) : Affine<double>(d, 11, 2);
            var donor = new Made<double>(d, 16, new Rng(12), hiddenLayers: 2, outputMultiplier: t.ParametersPerFeature, contextFeatures: 2,
                order: MadeOrder.Random, randomHiddenDegrees: true);
            Perturb(donor, 13, 0.1);
            t.Made.LoadStateDict(donor.StateDict());
            Assert.Equal(donor.Order, t.Made.Order);
            Check(t, 19, 14, DoubleTol);
        }
    }

    [Fact]
    public void ParameterUpdate_And_LoadStateDict_Refresh()
    {
        var t = Spline<float>(5, 21, 1, MadeOrder.Reversed);
        Perturb(t, 22, 0.1);
        var rng = new Rng(23);
        var y = rng.Normal<float>(17, 5).Untrack();
        var c = rng.Normal<float>(17, 1).Untrack();
        var before = Fast(t, y, c);
        var saved = t.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone().Untrack());

        Perturb(t, 24, 0.1); // a "training step"
        var after = Fast(t, y, c);
        Assert.NotEqual(before.X, after.X);
        Close(Loop(t, y, c).X, after.X, FloatTol, "x after update");

        t.LoadStateDict(saved);
        Close(before.X, Fast(t, y, c).X, 0, "x after LoadStateDict");
        Close(Loop(t, y, c).LogDet, Fast(t, y, c).LogDet, FloatTol, "log|det| after LoadStateDict");
    }

    [Fact]
    public void IafDensity_UsesIncrementalPath_AndMatches()
    {
        foreach (int ctx in new[] { 0, 2 })
        {
            var maf = Spline<double>(6, 31 + ctx, ctx, MadeOrder.Random);
            Perturb(maf, 32, 0.1);
            var iaf = new InverseTransform<double>(maf);
            var rng = new Rng(33);
            var x = rng.Normal<double>(23, 6).Untrack();
            var c = ctx > 0 ? rng.Normal<double>(23, ctx).Untrack() : null;
            var (zr, ldr) = iaf.Forward(new Var<double>(x.Clone(), requiresGrad: true), c is null ? null : new Var<double>(c));
            using var _ = GradMode.Disable();
            var (zf, ldf) = iaf.Forward(new Var<double>(x), c is null ? null : new Var<double>(c));
            Close(zr.Value.ToDoubleArray(), zf.Value.ToDoubleArray(), DoubleTol, "z");
            Close(ldr.Value.ToDoubleArray(), ldf.Value.ToDoubleArray(), DoubleTol, "log|det|");
        }
    }

    [Fact]
    public void FlowSample_EqualsRecordedSampleWithLogProb()
    {
        var flow = FlowBuilders.MafRqs<double>(4, layers: 3, hidden: 16, bins: 4, rng: new Rng(41));
        Perturb(flow, 42, 0.05);
        var fast = flow.Sample(50, new Rng(43)).Value.ToDoubleArray();
        var (x, logProb) = flow.SampleWithLogProb(50, new Rng(43)); // recorded: parameters require gradients
        Close(x.Value.ToDoubleArray(), fast, DoubleTol, "sample");
        Ops.Mean(logProb).Backward();
        Assert.Contains(flow.Parameters(), p => p.Grad is not null && p.Grad.ReadOnlySpan.ToArray().Any(v => v != 0));
    }

    [Fact]
    public void Unsupported_FallBackToLoop()
    {
        var residual = Affine<double>(4, 51, o: new ConditionerOptions { HiddenFeatures = 8, Residual = true });
        Assert.Null(IncrementalMade<double>.TryCreate(residual.Made));
        var dropout = Affine<double>(4, 52, o: new ConditionerOptions { HiddenFeatures = 8, Dropout = 0.5 });
        Assert.Null(IncrementalMade<double>.TryCreate(dropout.Made)); // training mode
        dropout.Eval();
        Assert.NotNull(IncrementalMade<double>.TryCreate(dropout.Made));
        // the fallback still inverts exactly
        Perturb(residual, 53, 0.1);
        var y = new Rng(54).Normal<double>(9, 4).Untrack();
        Close(Loop(residual, y, null).X, Fast(residual, y, null).X, 1e-12, "residual x");
    }
}
