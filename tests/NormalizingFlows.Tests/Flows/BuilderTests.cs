using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Flows;

/// <summary>The builders reproduce the reference architectures of shared/bench/README.md; masks and layer details.</summary>
public class BuilderTests
{
    private static int[][] LinearShapes(Module<float> m) => m.NamedParameters().Where(p => p.Key.EndsWith("weight", StringComparison.Ordinal))
        .Select(p => p.Value.Value.Shape.ToArray()).ToArray();

    private static IReadOnlyList<Transform<float>> Steps(Flow<float> f) => ((CompositeTransform<float>)f.Transform).Steps;

    [Fact]
    public void RealNvpIsEightAlternatingAffineCouplingsWithMlp128()
    {
        var flow = FlowBuilders.RealNvp<float>(18);
        Assert.IsType<Distributions.StandardNormal<float>>(flow.Base);
        var steps = Steps(flow);
        Assert.Equal(8, steps.Count);
        for (int l = 0; l < 8; l++)
        {
            var c = Assert.IsType<AffineCoupling<float>>(steps[l]);
            Assert.Equal(Enumerable.Range(0, 9).Select(i => 2 * i + (l % 2)).ToArray(), c.Mask.TransformedIndices);
            Assert.Equal([[128, 9], [128, 128], [18, 128]], LinearShapes(c.Conditioner));
            Assert.Equal(AffineScaleKind.SoftClampedExp, c.Scale.Kind);
        }
    }

    [Fact]
    public void NeuralSplineFlowIsFiveRqsCouplingsWith3KMinus1PerFeature()
    {
        var steps = Steps(FlowBuilders.NeuralSplineFlow<float>(18));
        Assert.Equal(5, steps.Count);
        for (int l = 0; l < 5; l++)
        {
            var c = Assert.IsType<SplineCoupling<float>>(steps[l]);
            var rq = Assert.IsType<RationalQuadraticSpline>(c.Spline);
            Assert.Equal(8, rq.Bins);
            Assert.Equal(SplineDomain.Symmetric(3), rq.Domain);
            Assert.Equal(l % 2 == 0 ? 0 : 1, c.Mask.TransformedIndices[0]);
            Assert.Equal([[128, 9], [128, 128], [9 * 23, 128]], LinearShapes(c.Conditioner));
        }
    }

    [Fact]
    public void MafIsFiveMadeLayersWithOrdersReversedBetweenLayers()
    {
        var steps = Steps(FlowBuilders.Maf<float>(18));
        Assert.Equal(5, steps.Count);
        for (int l = 0; l < 5; l++)
        {
            var m = Assert.IsType<MaskedAffineAutoregressive<float>>(steps[l]);
            Assert.Equal([[128, 18], [128, 128], [36, 128]], LinearShapes(m));
            var order = Enumerable.Range(0, 18).ToArray();
            Assert.Equal(l % 2 == 0 ? order : order.Reverse().ToArray(), m.Made.Order);
        }
    }

    [Fact]
    public void MafRqsIsFiveMadeLayersWith3KMinus1PerFeature()
    {
        var steps = Steps(FlowBuilders.MafRqs<float>(18));
        Assert.Equal(5, steps.Count);
        for (int l = 0; l < 5; l++)
        {
            var m = Assert.IsType<MaskedSplineAutoregressive<float>>(steps[l]);
            Assert.Equal([[128, 18], [128, 128], [23 * 18, 128]], LinearShapes(m));
            Assert.Equal(l % 2 == 1, m.Made.Order[0] == 17);
        }
    }

    [Fact]
    public void IafWrapsMafLayersAndConditionalBuildersTakeTheContext()
    {
        var iaf = FlowBuilders.Iaf<float>(4, layers: 2, hidden: 8, contextFeatures: 3);
        Assert.IsType<ConditionalFlow<float>>(iaf);
        Assert.All(Steps(iaf), s => Assert.IsType<MaskedAffineAutoregressive<float>>(Assert.IsType<InverseTransform<float>>(s).Inner));
        Assert.Equal(3, iaf.ContextFeatures);
        var rnvp = FlowBuilders.RealNvp<float>(4, layers: 2, hidden: 8, contextFeatures: 3);
        // MLP input = conditioning features + context
        Assert.Equal([8, 2 + 3], LinearShapes(((AffineCoupling<float>)Steps(rnvp)[0]).Conditioner)[0]);
        Assert.IsType<Distributions.StandardNormal<float>>(rnvp.Base);
    }

    [Fact]
    public void ConditionerOptionsReachTheNetworks()
    {
        var opt = new ConditionerOptions { HiddenLayers = 3, Activation = Activation.Tanh };
        var c = (AffineCoupling<float>)Steps(FlowBuilders.RealNvp<float>(4, layers: 2, hidden: 8, conditioner: opt))[0];
        var mlp = Assert.IsType<Mlp<float>>(c.Conditioner);
        Assert.Equal(4, mlp.Layers.Count);
        Assert.Equal(Activation.Tanh, mlp.Activation);
        var res = (AffineCoupling<float>)Steps(FlowBuilders.RealNvp<float>(4, layers: 2, hidden: 8, conditioner: new ConditionerOptions { Residual = true }))[0];
        Assert.IsType<ResidualNet<float>>(res.Conditioner);
        var maf = (MaskedAffineAutoregressive<float>)Steps(FlowBuilders.Maf<float>(4, layers: 2, hidden: 8, conditioner: new ConditionerOptions { Residual = true }))[0];
        Assert.True(maf.Made.IsResidual);
    }

    [Fact]
    public void BuildersRejectBadSizesClearly()
    {
        Assert.Contains("2 features", Assert.Throws<ArgumentOutOfRangeException>(() => FlowBuilders.RealNvp<double>(1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowBuilders.Maf<double>(3, layers: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowBuilders.MafRqs<double>(3, hidden: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowBuilders.Iaf<double>(3, bins: -1));
    }

    [Fact]
    public void OneFeatureMafWorks()
    {
        var flow = FlowBuilders.Maf<double>(1, layers: 2, hidden: 4);
        FlowTests.Randomize(flow, 0.3);
        var (x, lp) = flow.SampleWithLogProb(10, new Rng(1));
        var again = flow.LogProb(x.Detach());
        for (int i = 0; i < 10; i++) Assert.Equal(again.Value[i], lp.Value[i], 10);
    }

    [Fact]
    public void MasksGiveTheDocumentedColumnSets()
    {
        Assert.Equal([2, 3, 4], CouplingMask.Half(5).TransformedIndices);
        Assert.Equal([0, 1], CouplingMask.Half(5).ConditioningIndices);
        Assert.Equal([0, 1], CouplingMask.Half(5, flip: true).TransformedIndices);
        Assert.Equal([0, 2, 4], CouplingMask.Alternating(5).TransformedIndices);
        Assert.Equal([1, 3], CouplingMask.Alternating(5, even: false).TransformedIndices);
        Assert.Equal([1, 3], CouplingMask.Alternating(5).Flipped().TransformedIndices);
        Assert.Equal([0, 2, 4], CouplingMask.Checkerboard(5).TransformedIndices);
        // 3×3 image, one channel: (h + w) even
        Assert.Equal([0, 2, 4, 6, 8], CouplingMask.Checkerboard(3, 3).TransformedIndices);
        // 2×2 image, two channels
        Assert.Equal([1, 2, 5, 6], CouplingMask.Checkerboard(2, 2, even: false, channels: 2).TransformedIndices);
        Assert.Equal([1], CouplingMask.Custom([false, true, false]).TransformedIndices);
        Assert.Contains("transformed", Assert.Throws<ArgumentException>(() => CouplingMask.Custom([true, true])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CouplingMask.Alternating(1));
    }

    [Fact]
    public void LoadedMaskReplacesTheConstructedOne()
    {
        var a = new AffineCoupling<double>(CouplingMask.Alternating(4), new Rng(1), conditioner: new ConditionerOptions { HiddenFeatures = 4 });
        var b = new AffineCoupling<double>(CouplingMask.Half(4), new Rng(2), conditioner: new ConditionerOptions { HiddenFeatures = 4 });
        b.LoadStateDict(a.StateDict());
        Assert.Equal([0, 2], b.Mask.TransformedIndices);
        var c = new AffineCoupling<double>(CouplingMask.Custom([true, true, true, false]), new Rng(2), conditioner: new ConditionerOptions { HiddenFeatures = 4 });
        Assert.ThrowsAny<ArgumentException>(() => c.LoadStateDict(a.StateDict()));
    }

    [Fact]
    public void AffineScaleKindsMapRawZeroAsDocumented()
    {
        var x = new Var<double>(Tensor<double>.From([1.5, -2.0], 1, 2));
        var zeros = new Var<double>(Tensor<double>.Zeros(1, 4));
        var (y, ld) = AffineCouplingOp.Apply(x, zeros, AffineScale.SoftClampedExp(3));
        Assert.Equal([1.5, -2.0], y.Value.ToArray());
        Assert.Equal(0, ld.Value[0]);
        var (ys, lds) = AffineCouplingOp.Apply(x, zeros, AffineScale.Sigmoid);
        double s = 1 / (1 + Math.Exp(-2)) + 1e-3;
        Assert.Equal(1.5 * s, ys.Value[0], 14);
        Assert.Equal(2 * Math.Log(s), lds.Value[0], 14);
        // soft clamp: log s stays below the bound for huge raw values
        var big = new Var<double>(Tensor<double>.From([1e6, 0, -1e6, 0], 1, 4));
        var (_, ldb) = AffineCouplingOp.Apply(x, big, AffineScale.SoftClampedExp(2));
        Assert.Equal(0, ldb.Value[0], 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => AffineScale.SoftClampedExp(0));
    }
}
