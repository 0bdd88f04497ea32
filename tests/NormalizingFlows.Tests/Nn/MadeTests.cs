using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using static NormalizingFlows.Tests.Nn.NnTestUtil;

namespace NormalizingFlows.Tests.Nn;

public class MadeTests
{
    // hidden 12 keeps nflows' cyclic numbering; 40 (more than one 32-unit block) numbers the units by degree
    public static TheoryData<MadeOrder, int, int, bool, int> Configurations => new()
    {
        { MadeOrder.Natural, 1, 0, false, 12 },
        { MadeOrder.Reversed, 1, 0, false, 12 },
        { MadeOrder.Random, 1, 0, false, 12 },
        { MadeOrder.Natural, 3, 0, false, 12 },
        { MadeOrder.Random, 3, 2, false, 12 },
        { MadeOrder.Reversed, 2, 2, false, 12 },
        { MadeOrder.Random, 2, 0, true, 12 },
        { MadeOrder.Natural, 3, 2, true, 12 },
        { MadeOrder.Reversed, 2, 0, false, 40 },
        { MadeOrder.Random, 3, 2, false, 40 },
        { MadeOrder.Natural, 2, 2, true, 40 },
    };

    private static Made<double> Build(MadeOrder order, int multiplier, int context, bool randomDegrees, int hidden = 12, int d = 5, int seed = 21)
        => new(d, hidden, new Rng(seed), hiddenLayers: 2, outputMultiplier: multiplier, contextFeatures: context, order: order,
            randomHiddenDegrees: randomDegrees, activation: Activation.Tanh);

    [Theory]
    [MemberData(nameof(Configurations))]
    public void MaskProduct_HasNoPathFromLaterOrEqualInputs(MadeOrder order, int m, int context, bool randomDegrees, int hidden)
    {
        var made = Build(order, m, context, randomDegrees, hidden);
        int d = made.Features;
        var ord = made.Order;
        Assert.Equal(Enumerable.Range(0, d), ord.OrderBy(v => v));
        if (order == MadeOrder.Natural) Assert.Equal(Enumerable.Range(0, d), ord);
        if (order == MadeOrder.Reversed) Assert.Equal(Enumerable.Range(0, d).Reverse(), ord);

        // path counts P = M_out·M_h·M_in over the input columns (context columns of the inner layers excluded)
        var layers = made.Layers;
        double[,] p = Identity(d);
        foreach (var layer in layers)
        {
            var mask = layer.Mask;
            int rows = mask.Dim(0), cols = p.GetLength(0);
            var next = new double[rows, d];
            for (int o = 0; o < rows; o++)
                for (int k = 0; k < cols; k++)
                {
                    if (mask[o, k] == 0) continue;
                    for (int j = 0; j < d; j++) next[o, j] += p[k, j];
                }
            p = next;
        }
        Assert.Equal(d * m, p.GetLength(0));
        for (int c = 0; c < d * m; c++)
        {
            int i = c / m; // feature-major
            for (int j = 0; j < d; j++)
            {
                if (ord[j] >= ord[i]) Assert.True(p[c, j] == 0, $"output {c} (feature {i}) has a path from input {j}");
                else if (!randomDegrees) Assert.True(p[c, j] > 0, $"output {c} (feature {i}) is cut off from earlier input {j}");
            }
        }
        // context columns are all connected
        if (context > 0)
        {
            var first = layers[0].Mask;
            for (int o = 0; o < first.Dim(0); o++)
                for (int k = d; k < d + context; k++) Assert.Equal(1.0, first[o, k]);
        }
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Numerically_OutputsIgnoreLaterOrEqualInputs(MadeOrder order, int m, int context, bool randomDegrees, int hidden)
    {
        var made = Build(order, m, context, randomDegrees, hidden);
        CheckAutoregressive(made, m, context, requireDependence: !randomDegrees);
    }

    [Theory]
    [InlineData(MadeOrder.Natural, 1, 0, 10)]
    [InlineData(MadeOrder.Random, 3, 2, 10)]
    [InlineData(MadeOrder.Reversed, 2, 1, 10)]
    [InlineData(MadeOrder.Reversed, 2, 2, 40)]
    public void ResidualVariant_IsAutoregressive(MadeOrder order, int m, int context, int hidden)
    {
        var made = new Made<double>(4, hidden, new Rng(5), hiddenLayers: 2, outputMultiplier: m, contextFeatures: context, order: order,
            residualBlocks: true, activation: Activation.Tanh);
        Assert.True(made.IsResidual);
        Assert.Equal(4, made.BlockLayers.Count);
        CheckAutoregressive(made, m, context, requireDependence: true);
    }

    private static void CheckAutoregressive(Made<double> made, int m, int context, bool requireDependence)
    {
        int d = made.Features, n = 4;
        var ord = made.Order;
        var rng = new Rng(99);
        var x = RandomD(rng, n, d);
        Var<double>? ctx = context > 0 ? new Var<double>(RandomD(rng, n, context)) : null;
        using var _ = GradMode.Disable();
        var y0 = made.Forward(x, ctx).Value;
        Assert.Equal([n, d * m], y0.Shape.ToArray());
        for (int j = 0; j < d; j++)
        {
            var xp = x.Clone();
            for (int r = 0; r < n; r++) xp[r, j] += 1.5;
            var y1 = made.Forward(xp, ctx).Value;
            for (int c = 0; c < d * m; c++)
            {
                int i = c / m;
                double maxDiff = Enumerable.Range(0, n).Max(r => Math.Abs(y1[r, c] - y0[r, c]));
                if (ord[j] >= ord[i]) Assert.True(maxDiff <= 1e-12, $"output {c} (feature {i}, position {ord[i]}) changed by {maxDiff} when input {j} (position {ord[j]}) moved");
                else if (requireDependence) Assert.True(maxDiff > 1e-9, $"output {c} (feature {i}) does not depend on earlier input {j}");
            }
        }
        if (ctx is not null)
        {
            var cp = ctx.Value.Clone();
            for (int k = 0; k < cp.Length; k++) cp[k] += 1.0;
            var y2 = made.Forward(x, cp).Value;
            for (int c = 0; c < d * m; c++)
                Assert.True(Enumerable.Range(0, n).Max(r => Math.Abs(y2[r, c] - y0[r, c])) > 1e-9, $"output {c} ignores the context");
        }
    }

    [Fact]
    public void CustomOrder_IsUsedAndValidated()
    {
        var made = new Made<double>(4, 8, new Rng(1), customOrder: [2, 0, 3, 1]);
        Assert.Equal([2, 0, 3, 1], made.Order);
        Assert.Equal([3, 1, 4, 2], made.InputDegrees);
        CheckAutoregressive(made, 1, 0, requireDependence: true);
        Assert.Throws<ArgumentException>(() => new Made<double>(3, 8, new Rng(1), customOrder: [0, 0, 1]));
        Assert.Throws<ArgumentException>(() => new Made<double>(3, 8, new Rng(1), customOrder: [0, 1]));
    }

    [Fact]
    public void HiddenDegrees_CycleThroughOneToDMinusOne_NumberedByDegreeBeyondOneBlock()
    {
        var made = new Made<float>(4, 7, new Rng(1), hiddenLayers: 2);
        Assert.Equal([1, 2, 3, 1, 2, 3, 1], made.HiddenDegrees(0));
        Assert.Equal([1, 2, 3, 1, 2, 3, 1], made.HiddenDegrees(1));
        var random = new Made<float>(4, 50, new Rng(1), randomHiddenDegrees: true);
        Assert.True(random.HiddenDegrees(0).All(v => v >= 1 && v <= 3));
        Assert.Equal(["order", "hidden_degrees", "layers.0.mask", "layers.1.mask", "layers.2.mask"], random.NamedBuffers().Select(b => b.Key));
        // wider than one block: nflows' cyclic multiset, numbered in increasing degree
        var wide = new Made<float>(4, 40, new Rng(1));
        var cyclic = Enumerable.Range(0, 40).Select(k => k % 3 + 1).ToArray();
        Assert.Equal(cyclic.Order(), wide.HiddenDegrees(0));
    }

    [Fact]
    public void NumberingByDegree_IsARelabellingOfTheCyclicNetwork()
    {
        // Undo the relabelling by hand (sorted unit j is cyclic unit perm[j]), rebuild the masks from the cyclic degrees,
        // and evaluate the network unit by unit in the cyclic numbering: it must give Forward's outputs.
        int d = 6, h = 48, m = 2;
        var made = new Made<double>(d, h, new Rng(3), outputMultiplier: m, order: MadeOrder.Reversed);
        var cyclic = Enumerable.Range(0, h).Select(k => k % (d - 1) + 1).ToArray();
        var perm = Enumerable.Range(0, h).OrderBy(k => cyclic[k]).ToArray();
        Assert.Equal(perm.Select(k => cyclic[k]), made.HiddenDegrees(0));
        var inv = new int[h];
        for (int j = 0; j < h; j++) inv[perm[j]] = j;
        var inDeg = made.InputDegrees;
        var x = new Rng(4).Normal<double>(5, d);
        var y = made.Forward(new Var<double>(x)).Value;
        var L = made.Layers;
        for (int r = 0; r < 5; r++)
        {
            var h1 = new double[h];
            var h2 = new double[h];
            for (int k = 0; k < h; k++)
            {
                double s = L[0].Bias!.Value[inv[k]];
                for (int i = 0; i < d; i++) if (cyclic[k] >= inDeg[i]) s += L[0].Weight.Value[inv[k], i] * x[r, i];
                h1[k] = Math.Max(s, 0);
            }
            for (int k = 0; k < h; k++)
            {
                double s = L[1].Bias!.Value[inv[k]];
                for (int q = 0; q < h; q++) if (cyclic[k] >= cyclic[q]) s += L[1].Weight.Value[inv[k], inv[q]] * h1[q];
                h2[k] = Math.Max(s, 0);
            }
            for (int c = 0; c < d * m; c++)
            {
                double s = L[2].Bias!.Value[c];
                for (int q = 0; q < h; q++) if (inDeg[c / m] > cyclic[q]) s += L[2].Weight.Value[c, inv[q]] * h2[q];
                Assert.True(Math.Abs(s - y[r, c]) <= 1e-12 * (1 + Math.Abs(s)), $"row {r} output {c}: {y[r, c]} vs {s}");
            }
        }
    }

    [Fact]
    public void SingleFeature_OutputsAreConstants()
    {
        var made = new Made<double>(1, 4, new Rng(3), outputMultiplier: 3);
        using var _ = GradMode.Disable();
        var a = made.Forward(RandomD(new Rng(1), 2, 1)).Value;
        var b = made.Forward(RandomD(new Rng(2), 2, 1)).Value;
        Assert.Equal(a.ToArray(), b.ToArray());
    }

    [Fact]
    public void ZeroInitLast_OutputsZero_AndReshapesFeatureMajor()
    {
        var made = new Made<float>(3, 16, new Rng(4), outputMultiplier: 2, zeroInitLast: true);
        var y = made.Forward(new Rng(1).Normal<float>(5, 3));
        Assert.True(y.Value.ToArray().All(v => v == 0));
        var rows = Ops.Reshape(y, 5 * 3, 2);
        Assert.Equal([15, 2], rows.Value.Shape.ToArray());
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(false, 2)]
    [InlineData(true, 1)]
    public void GradCheck_ParametersAndInput(bool residual, int context)
    {
        var rng = new Rng(31);
        var made = new Made<double>(3, 6, rng, hiddenLayers: 2, outputMultiplier: 2, contextFeatures: context, order: MadeOrder.Random,
            activation: Activation.Tanh, residualBlocks: residual);
        Var<double>? ctx = context > 0 ? new Var<double>(RandomD(rng, 4, context)) : null;
        var r = CheckModule(v => made.Forward(v, ctx), made, RandomD(rng, 4, 3));
        Assert.True(r.Passed, r.ToString());
    }

    private static double[,] Identity(int d)
    {
        var m = new double[d, d];
        for (int i = 0; i < d; i++) m[i, i] = 1;
        return m;
    }

    [Fact]
    public void HiddenInitAndOutputScaleSetTheWeightRanges()
    {
        var torch = new Made<double>(4, 256, new Rng(1), hiddenLayers: 2, outputMultiplier: 2);
        var he = new Made<double>(4, 256, new Rng(1), hiddenLayers: 2, outputMultiplier: 2, hiddenInit: LinearInit.KaimingUniform, outputWeightScale: 0.3);
        for (int l = 0; l < 2; l++)
        {
            int fanIn = he.Layers[l].InFeatures;
            double heBound = Math.Sqrt(2.0) * Math.Sqrt(3.0 / fanIn), torchBound = 1 / Math.Sqrt(fanIn);
            var hw = he.Layers[l].Weight.Value.ToArray();
            var tw = torch.Layers[l].Weight.Value.ToArray();
            Assert.All(hw, v => Assert.True(Math.Abs(v) <= heBound));
            Assert.All(tw, v => Assert.True(Math.Abs(v) <= torchBound));
            Assert.True(hw.Max(Math.Abs) > 0.95 * heBound, "He-uniform weights should fill their range"); // ≥ 1024 draws
            Assert.All(he.Layers[l].Bias!.Value.ToArray(), v => Assert.True(Math.Abs(v) <= torchBound));
        }
        int outFan = he.Layers[2].InFeatures;
        var ow = he.Layers[2].Weight.Value.ToArray();
        Assert.All(ow, v => Assert.True(Math.Abs(v) <= 0.3 / Math.Sqrt(outFan) + 1e-15));
        Assert.True(ow.Max(Math.Abs) > 0.9 * 0.3 / Math.Sqrt(outFan));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Made<double>(4, 8, new Rng(1), outputWeightScale: double.NaN));
    }
}
