using System.Text.Json.Nodes;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tests.Transforms;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Models;

public sealed class FlowArchitectureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-architecture-").FullName;

    public FlowArchitectureTests() => FlowArchitecture.RegisterConditioner(TinyConditionerFactory.KindName, TinyConditionerFactory.Read);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static double[] LogProb(Flow<double> flow, Tensor<double> x, Tensor<double>? c = null)
    {
        using var _ = GradMode.Disable();
        return flow.LogProb(new Var<double>(x), c is null ? null : new Var<double>(c)).Value.ToArray();
    }

    /// <summary>Describe → JSON text → rebuild (another seed) → load the original's state: same density, same description.</summary>
    private static void AssertRebuildsExactly(Flow<double> flow)
    {
        string text = FlowArchitecture.Describe(flow).ToJsonString();
        var rebuilt = FlowArchitecture.Build<double>(JsonNode.Parse(text)!.AsObject(), new Rng(99));
        Assert.Equal(text, FlowArchitecture.Describe(rebuilt).ToJsonString());
        rebuilt.LoadStateDict(flow.StateDict());
        var rng = new Rng(5);
        var x = rng.Normal<double>(7, flow.Features);
        var c = flow.Transform.ContextFeatures > 0 ? rng.Normal<double>(7, flow.Transform.ContextFeatures) : null;
        Assert.Equal(LogProb(flow, x, c), LogProb(rebuilt, x, c));
        Assert.Equal(flow is ConditionalFlow<double>, rebuilt is ConditionalFlow<double>);
    }

    [Theory]
    [InlineData("realnvp", 0)]
    [InlineData("nsf", 2)]
    [InlineData("maf", 0)]
    [InlineData("maf-rqs", 2)]
    [InlineData("iaf", 0)]
    [InlineData("glow", 0)]
    [InlineData("planar", 0)]
    public void EveryBuilderFlowIsDescribedAndRebuiltExactly(string builder, int context)
    {
        var flow = new FlowSpec { Builder = builder, Features = 3, Layers = 2, Hidden = 8, Bins = builder == "iaf" ? 3 : null, ContextFeatures = context, Seed = 4 }
            .Build<double>();
        AssertRebuildsExactly(flow);
    }

    private static Flow<double> HandAssembled(IConditionerFactory coupling, int context = 2)
    {
        var r = new Rng(3);
        return new ConditionalFlow<double>(new CompositeTransform<double>(
            new BatchNormTransform<double>(4, momentum: 0.2),
            new CouplingTransform<double>(CouplingMask.Half(4), new AffineUpdate(AffineScale.RationalClampedExp(2)), r, context, coupling),
            new ElementwiseAffine<double>(4),
            new AutoregressiveTransform<double>(4, new SplineUpdate(new RationalQuadraticSpline(3, SplineDomain.Symmetric(2), minDerivative: 0.01)), r, context,
                new MadeConditioner { HiddenFeatures = 9, Residual = true }, MadeOrder.Random),
            new InverseAutoregressiveTransform<double>(4, new AdditiveUpdate(), r, context, new TinyConditionerFactory(5, Autoregressive: true)),
            new CouplingTransform<double>(CouplingMask.Alternating(4), new AffineUpdate(AffineScale.SoftClampedExp(double.PositiveInfinity)), r, context),
            new LeakyRelu<double>(4, 0.3), new Radial<double>(4, r)), new DiagonalNormal<double>(4));
    }

    [Fact]
    public void HandAssembledFlowOfUserAndLibraryPartsIsRebuiltExactly()
        => AssertRebuildsExactly(HandAssembled(new TinyConditionerFactory(7)));

    [Fact]
    public void HandAssembledFlowSavesToOneModelFileAndLoads()
    {
        var flow = HandAssembled(new TinyConditionerFactory(7));
        var model = FlowModel<double>.FromFlow(flow, seed: 12);
        Assert.Equal(FlowSpec.Composed, model.Spec.Builder);
        Assert.Contains("coupling ×2", model.Spec.Summary());
        string path = Path.Combine(_dir, "hand.nflow");
        ModelFile.Save(path, model);
        var loaded = ModelFile.Load<double>(path);
        model.Flow.Eval();
        loaded.Flow.Eval();
        Assert.Equal(model.Spec.ToJson(), loaded.Spec.ToJson());
        var rng = new Rng(8);
        var x = rng.Normal<double>(5, 4);
        var c = rng.Normal<double>(5, 2);
        Assert.Equal(LogProb(model.Flow, x, c), LogProb(loaded.Flow, x, c));
    }

    private sealed record UnregisteredFactory : IConditionerFactory
    {
        public string Name => "never-registered-net";

        public JsonObject Settings() => [];

        public NormalizingFlows.Nn.Module<T> Create<T>(ConditionerShape shape, Rng rng) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
            => new TinyConditioner<T>(shape, 3, rng);
    }

    [Fact]
    public void LoadingAFileWhoseConditionerIsNotRegisteredNamesIt()
    {
        var flow = new Flow<double>(new CouplingTransform<double>(CouplingMask.Half(2), new AdditiveUpdate(), new Rng(1), 0, new UnregisteredFactory()),
            new StandardNormal<double>(2));
        string path = Path.Combine(_dir, "unregistered.nflow");
        ModelFile.Save(path, FlowModel<double>.FromFlow(flow));
        var ex = Assert.Throws<ModelFileException>(() => ModelFile.Load<double>(path));
        Assert.Contains("never-registered-net", ex.Message);
        Assert.Contains("RegisterConditioner", ex.Message);
    }

    [Fact]
    public void BuilderSpecsKeepTheirJson()
    {
        var spec = new FlowSpec { Builder = "nsf", Features = 4 };
        Assert.DoesNotContain("architecture", spec.ToJson());
        Assert.Equal(spec, FlowSpec.FromJson(spec.ToJson()));
        Assert.Throws<FormatException>(() => FlowSpec.FromJson("""{"builder":"composed","features":4}"""));
    }

    [Fact]
    public void AnAutoregressiveLayerRefusesANonAutoregressiveConditioner()
    {
        var ex = Assert.Throws<ArgumentException>(() => new AutoregressiveTransform<double>(4, new AffineUpdate(), new Rng(2), 0, new TinyConditionerFactory(5)));
        Assert.Contains("tiny-test", ex.Message);
        Assert.Contains("not autoregressive", ex.Message);
    }

    [Fact]
    public void APartNoKindDescribesIsNamed()
    {
        var flow = new Flow<double>(new Permutation<double>([1, 0]), new BoxUniform<double>([0.0, 0.0], [1.0, 1.0]));
        var ex = Assert.Throws<ArgumentException>(() => FlowArchitecture.Describe(flow));
        Assert.Contains("BoxUniform", ex.Message);
        var bad = JsonNode.Parse("""{"features":2,"contextFeatures":0,"conditional":false,"base":{"kind":"standard-normal","features":2},"transform":{"kind":"warp-drive"}}""")!.AsObject();
        Assert.Contains("warp-drive", Assert.Throws<ArgumentException>(() => FlowArchitecture.Validate(bad)).Message);
    }

    /// <summary>A user transform for the registry test: y = a·x + b with a fixed a (a setting) and no parameters.</summary>
    private sealed class Stretch<T>(int features, double factor) : Transform<T>(features) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        public double Factor { get; } = factor;

        public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
            => (Ops.ScaleShift(x, Factor), new Var<T>(Tensor<T>.Full(T.CreateTruncating(Features * Math.Log(Math.Abs(Factor))), x.Value.Dim(0))));

        public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
            => (Ops.ScaleShift(y, 1 / Factor), new Var<T>(Tensor<T>.Full(T.CreateTruncating(-Features * Math.Log(Math.Abs(Factor))), y.Value.Dim(0))));
    }

    private sealed class StretchKind : ITransformKind
    {
        public string Name => "test-stretch";

        public bool Describes<T>(Transform<T> transform) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => transform is Stretch<T>;

        public JsonObject Describe<T>(Transform<T> transform) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
            => new() { ["features"] = transform.Features, ["factor"] = ((Stretch<T>)transform).Factor };

        public Transform<T> Build<T>(JsonObject settings, Rng rng) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
            => new Stretch<T>(settings["features"]!.GetValue<int>(), settings["factor"]!.GetValue<double>());
    }

    [Fact]
    public void AUserTransformKindIsDescribedAndRebuilt()
    {
        var flow = new Flow<double>(new CompositeTransform<double>(new Stretch<double>(3, -2.5), new Tanh<double>(3)), new StandardNormal<double>(3));
        Assert.Contains("Stretch", Assert.Throws<ArgumentException>(() => FlowArchitecture.Describe(flow)).Message);
        FlowArchitecture.RegisterTransform(new StretchKind());
        Assert.Contains("\"factor\":-2.5", FlowArchitecture.Describe(flow).ToJsonString());
        AssertRebuildsExactly(flow);
    }

    private sealed record TooWideFactory : IConditionerFactory
    {
        public string Name => "too-wide";

        public JsonObject Settings() => [];

        public NormalizingFlows.Nn.Module<T> Create<T>(ConditionerShape shape, Rng rng) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
            => new TinyConditioner<T>(new ConditionerShape(shape.Inputs, shape.ContextFeatures, shape.Outputs + shape.ParametersPerFeature, shape.IdentityParameters), 3, rng);
    }

    [Fact]
    public void AConditionerOfTheWrongWidthIsRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CouplingTransform<double>(CouplingMask.Half(4), new AffineUpdate(), new Rng(1), 0, new TooWideFactory()));
        Assert.Contains("too-wide", ex.Message);
        Assert.Contains("[2, 4]", ex.Message);
    }
}
