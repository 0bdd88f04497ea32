using System.Numerics;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Distributions;
using NormalizingFlows.Export;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Continuous;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Monotonic;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Tests.Export;

/// <summary>
/// Runs the exported ONNX graphs with ONNX Runtime (CPU) and compares them with the library: log p to 1e-5 relative
/// (absolute floor 1e-5 where |log p| &lt; 1, where a relative bound on a sum of terms of size ~1 that cancel is
/// meaningless) on random inputs that include values beyond the spline bounds and outside the preprocessing's domain;
/// samples from the same base noise to the same tolerance. Every builder, conditional and not, float and double, with
/// random weights (a fresh flow is the identity, which would prove little).
/// </summary>
public class OnnxExportTests
{
    private const int D = 3, Rows = 48;

    public static TheoryData<string, bool, bool> Builders()
    {
        var data = new TheoryData<string, bool, bool>();
        foreach (var b in new[] { "realnvp", "nsf", "maf", "maf-rqs", "iaf", "iaf-rqs", "glow", "naf", "umnn", "cnf", "flow-matching" })
            foreach (bool conditional in new[] { false, true })
                foreach (bool isDouble in new[] { false, true })
                    data.Add(b, conditional, isDouble);
        return data;
    }

    [Theory]
    [MemberData(nameof(Builders))]
    public void BuilderGraphsMatchTheLibrary(string builder, bool conditional, bool isDouble)
        => CheckInType(isDouble, () => MakeModel<double>(builder, conditional), () => MakeModel<float>(builder, conditional));

    [Fact]
    public void PlanarFlowExportsItsSamplingGraphAndRefusesTheDensityByName()
    {
        var model = new FlowModel<double>(new FlowSpec { Builder = "planar", Features = D, Layers = 4, Seed = 3 });
        Perturb(model, new Rng(5));
        CheckSample(model, model, 9);
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(model, OnnxGraphKind.LogProb));
        Assert.Contains("planar", ex.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ComposedFlowOfLibraryPartsMatchesTheLibrary(bool isDouble)
        => CheckInType(isDouble, () => Composed<double>(mixture: false), () => Composed<float>(mixture: false));

    [Theory]
    [InlineData("nsf", false)]
    [InlineData("nsf", true)]
    [InlineData("maf-rqs", false)]
    [InlineData("maf-rqs", true)]
    public void PeriodicFlowsMatchTheLibrary(string builder, bool isDouble)
        => CheckInType(isDouble, () => Periodic<double>(builder), () => Periodic<float>(builder));

    /// <summary>
    /// The elementwise maps, in pairs that keep both directions defined (sigmoid then logit, tanh then its inverse, …),
    /// in double: in float both the library and the graph saturate (sigmoid(18) rounds to 1), so a float model cannot
    /// be held to the exact value there.
    /// </summary>
    [Fact]
    public void ElementwiseMapsMatchTheLibraryInDouble()
    {
        var rng = new Rng(29);
        var steps = new Transform<double>[]
        {
            new Sigmoid<double>(D), new Logit<double>(D), new Tanh<double>(D), new InverseTransform<double>(new Tanh<double>(D)),
            new ElementwiseAffine<double>(D), new Softplus<double>(D), new InverseTransform<double>(new Softplus<double>(D)), new LeakyRelu<double>(D, 0.3),
            new InverseTransform<double>(new Logit<double>(D, eps: 0.01)), new Logit<double>(D, eps: 0.01),
        };
        var pre = Standardized<double>();
        var model = FlowModel<double>.FromFlow(new Flow<double>(new CompositeTransform<double>(steps), new StandardNormal<double>(D)), pre);
        Perturb(model, rng);
        Check(model, model, farRows: false);
    }

    /// <summary>
    /// The graph takes the library's ODE steps: with tolerances of 1e−2 (and RK4 with 3 steps) the computed map is
    /// ~1e−3 off the exact flow, so a graph stepping otherwise than the library could not agree to 1e−5.
    /// </summary>
    [Theory]
    [InlineData(OdeSolver.DormandPrince, false)]
    [InlineData(OdeSolver.DormandPrince, true)]
    [InlineData(OdeSolver.RungeKutta4, false)]
    [InlineData(OdeSolver.RungeKutta4, true)]
    public void ContinuousFlowGraphsTakeTheLibrarysSteps(OdeSolver solver, bool conditional)
    {
        var model = Continuous(new ContinuousFlowOptions { Solver = solver, RelativeTolerance = 1e-2, AbsoluteTolerance = 1e-2, Steps = 3 }, conditional);
        Check(model, model);
    }

    /// <summary>A flow trained with Hutchinson's trace exports the exact trace: its graph gives the exact-trace log-density of the same weights.</summary>
    [Fact]
    public void HutchinsonFlowExportsTheExactTrace()
    {
        var hutchinson = Continuous(new ContinuousFlowOptions { Trace = TraceEstimator.Hutchinson, ProbeSeed = 5 }, conditional: false);
        Check(hutchinson, Continuous(new ContinuousFlowOptions(), conditional: false));
    }

    /// <summary>The loops of the iterative parts run on an empty batch and return no rows (their stopping tests reduce over no rows).</summary>
    [Theory]
    [InlineData("naf")]
    [InlineData("cnf")]
    public void EmptyBatchRunsThroughTheLoops(string builder)
    {
        var model = new FlowModel<float>(new FlowSpec { Builder = builder, Features = 2, Layers = 1, Hidden = 8, Seed = 3 });
        Assert.Empty(Run(OnnxExport.ToBytes(model, OnnxGraphKind.LogProb), "log_prob", ("x", [], 2)));
        Assert.Empty(Run(OnnxExport.ToBytes(model, OnnxGraphKind.Sample), "x", ("noise", [], 2)));
    }

    private static FlowModel<double> Continuous(ContinuousFlowOptions options, bool conditional)
    {
        var flow = FlowBuilders.ContinuousFlow<double>(D, layers: 2, hidden: 12, contextFeatures: conditional ? 2 : 0, rng: new Rng(3), options: options);
        var pre = Standardized<double>();
        var model = FlowModel<double>.FromFlow(flow, pre);
        Perturb(model, new Rng(47));
        return model;
    }

    /// <summary>
    /// The monotonic updates in couplings and in inverted autoregressive layers (their density direction is then the
    /// sequential one, D root finds in a row): sigmoidal and UMNN.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MonotonicUpdatesInCouplingsAndInverseLayersMatchTheLibrary(bool isDouble)
        => CheckInType(isDouble, () => Monotonic<double>(), () => Monotonic<float>());

    private static FlowModel<T> Monotonic<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(53);
        var mlp = new CouplingConditioner { HiddenFeatures = 12, HiddenLayers = 1 };
        var steps = new Transform<T>[]
        {
            new CouplingTransform<T>(CouplingMask.Half(D), new SigmoidalUpdate(3), rng, conditioner: mlp),
            new CouplingTransform<T>(CouplingMask.Alternating(D), new UmnnUpdate(embedding: 2, hidden: 8, layers: 2, nodes: 9), rng, conditioner: mlp),
            new InverseTransform<T>(new AutoregressiveTransform<T>(D, new SigmoidalUpdate(2), rng, conditioner: new MadeConditioner { HiddenFeatures = 12 })),
            new InverseTransform<T>(new AutoregressiveTransform<T>(D, new UmnnUpdate(embedding: 2, hidden: 8, layers: 1, nodes: 5), rng, conditioner: new MadeConditioner { HiddenFeatures = 12 })),
        };
        var pre = Standardized<T>();
        var model = FlowModel<T>.FromFlow(new Flow<T>(new CompositeTransform<T>(steps), new StandardNormal<T>(D)), pre);
        Perturb(model, new Rng(59), scale: 0.1);
        return model;
    }

    /// <summary>A conditional flow whose context is a set of up to 3 elements (a presence flag and 2 features each), summed by a deep-set embedding.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SumPoolingEmbeddingMatchesTheLibrary(bool isDouble)
        => CheckInType(isDouble, () => SetModel<double>(), () => SetModel<float>());

    private static FlowModel<T> SetModel<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var spec = new FlowSpec { Builder = "nsf", Features = D, Layers = 2, Hidden = 16, Bins = 4, ContextFeatures = 2, Seed = 5 };
        var names = Enumerable.Range(0, 9).Select(i => $"s{i}").ToArray();
        var model = new FlowModel<T>(spec, embedding: new EmbeddingSpec { Kind = EmbeddingSpec.Set, Features = 2, Hidden = 8, Layers = 1, ElementFeatures = 2 }, contextColumns: names);
        Perturb(model, new Rng(43));
        return model;
    }

    [Fact]
    public void MixtureBaseExportsItsDensityAndRefusesSamplingByName()
    {
        var model = Composed<double>(mixture: true);
        CheckLogProb(model, model, new Rng(31));
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(model, OnnxGraphKind.Sample));
        Assert.Contains("GaussianMixture", ex.Message);
    }

    [Fact]
    public void UnsupportedPartIsNamed()
    {
        var layer = new CouplingTransform<float>(CouplingMask.Half(D), new AffineUpdate(), new Rng(1), conditioner: new UserNetFactory());
        var model = FlowModel<float>.FromFlow(new Flow<float>(layer, new StandardNormal<float>(D)));
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(model, OnnxGraphKind.LogProb));
        Assert.Contains("UserNet", ex.Message);
    }

    // ------------------------------------------------------------------ models

    private static FlowModel<T> MakeModel<T>(string builder, bool conditional) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string name = builder == "iaf-rqs" ? "iaf" : builder;
        var spec = new FlowSpec
        {
            Builder = name, Features = D, Layers = 2, Hidden = 16, Bins = builder is "nsf" or "maf-rqs" or "iaf-rqs" ? 5 : null,
            ContextFeatures = conditional ? 2 : 0, Seed = 7, DType = typeof(T) == typeof(float) ? "float32" : "float64",
        };
        var data = Data(new Rng(11), 400);
        var pre = PreprocessingPipeline.Fit<T>(data, new PreprocessingSpec([
            new ColumnPreprocessing("a", PreprocessingKind.Standardize), new ColumnPreprocessing("b", PreprocessingKind.Log),
            new ColumnPreprocessing("c", PreprocessingKind.MinMaxLogit)]));
        FlowModel<T> model;
        if (!conditional) model = new FlowModel<T>(spec, pre);
        else
        {
            var ctx = new Table(["u", "v", "w"], Enumerable.Range(0, 300).Select(i => 10.0 + Math.Sin(i * 1.7) * (1 + i % 3)).ToArray(), 100);
            var ctxPre = PreprocessingPipeline.Fit<T>(ctx, PreprocessingSpec.Uniform(ctx.Columns, PreprocessingKind.Standardize));
            model = new FlowModel<T>(spec, pre, contextPreprocessing: ctxPre, embedding: new EmbeddingSpec { Kind = EmbeddingSpec.Mlp, Features = 2, Hidden = 8, Layers = 1 });
        }
        // the monotonic maps' slopes reach down to 10⁻³: with full-size random weights their sampling direction
        // lands beyond float's range after the log column's exp
        Perturb(model, new Rng(13), scale: builder is "naf" or "umnn" ? 0.1 : 0.3);
        return model;
    }

    // circular splines on the angle column c (period [0, 1) mapped onto [−π, π)), a periodic base
    private static FlowModel<T> Periodic<T>(string builder) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(17);
        var flow = builder == "nsf"
            ? FlowBuilders.NeuralSplineFlow<T>(D, layers: 2, hidden: 16, bins: 5, rng: rng, periodic: [2])
            : FlowBuilders.MafRqs<T>(D, layers: 2, hidden: 16, bins: 5, rng: rng, periodic: [2]);
        var pre = PreprocessingPipeline.Fit<T>(Data(new Rng(11), 400), new PreprocessingSpec([
            new ColumnPreprocessing("a", PreprocessingKind.Standardize), new ColumnPreprocessing("b", PreprocessingKind.Log),
            new ColumnPreprocessing("c", PreprocessingKind.Periodic) { Lower = 0, Upper = 1 }]));
        var model = FlowModel<T>.FromFlow(flow, pre);
        Perturb(model, new Rng(19));
        return model;
    }

    // couplings with every update, autoregressive layers, LU, ActNorm, batch norm, permutation, elementwise affine, a
    // residual conditioner and a diagonal-normal or Gaussian-mixture base, behind a dequantizing preprocessing
    private static FlowModel<T> Composed<T>(bool mixture) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(21);
        var residual = new CouplingConditioner { HiddenFeatures = 12, HiddenLayers = 2, Residual = true, Activation = Activation.Tanh };
        var mlp = new CouplingConditioner { HiddenFeatures = 12, HiddenLayers = 1, Activation = Activation.Elu };
        var steps = new Transform<T>[]
        {
            new ActNorm<T>(D),
            new CouplingTransform<T>(CouplingMask.Half(D), new SplineUpdate(new PiecewiseLinearSpline(4)), rng, conditioner: mlp),
            new CouplingTransform<T>(CouplingMask.Alternating(D), new SplineUpdate(new PiecewiseQuadraticSpline(3)), rng, conditioner: mlp),
            new CouplingTransform<T>(CouplingMask.Alternating(D), new AffineUpdate(AffineScale.Sigmoid), rng, conditioner: residual),
            new BatchNormTransform<T>(D),
            new CouplingTransform<T>(CouplingMask.Half(D), new AdditiveUpdate(), rng, conditioner: mlp),
            new LuLinear<T>(D, rng),
            new Radial<T>(D, rng),
            new CouplingTransform<T>(CouplingMask.Alternating(D, even: false), new AffineUpdate(AffineScale.Softplus), rng, conditioner: mlp with { Activation = Activation.Silu }),
            new Permutation<T>([2, 0, 1]),
            new AutoregressiveTransform<T>(D, new AffineUpdate(AffineScale.RationalClampedExp()), rng, conditioner: new MadeConditioner { HiddenFeatures = 12, Residual = true }),
            new CouplingTransform<T>(CouplingMask.Half(D, flip: true),
                new SplineUpdate(new RationalQuadraticSpline(4, new SplineDomain(-2, 2.5, -3, 2, false))), rng, conditioner: mlp),
            new InverseTransform<T>(new AutoregressiveTransform<T>(D, SplineUpdate.RationalQuadratic(3, 2.0), rng, conditioner: new MadeConditioner { HiddenFeatures = 12, Activation = Activation.LeakyRelu })),
            new ElementwiseAffine<T>(D),
        };
        var flow = new Flow<T>(new CompositeTransform<T>(steps), mixture ? new GaussianMixture<T>(D, 3, rng) : new DiagonalNormal<T>(D));
        var data = Data(new Rng(11), 400, negativeB: true);
        var pre = PreprocessingPipeline.Fit<T>(data, new PreprocessingSpec([
            new ColumnPreprocessing("a", PreprocessingKind.Dequantize), new ColumnPreprocessing("b", PreprocessingKind.LogUpper),
            new ColumnPreprocessing("c", PreprocessingKind.None)]));
        var model = FlowModel<T>.FromFlow(flow, pre);
        Perturb(model, new Rng(23), scale: 0.15); // eleven random layers and a log column: keep the samples in float's reach
        return model;
    }

    // every column standardised on the data below
    private static PreprocessingPipeline<T> Standardized<T>() where T : unmanaged, IFloatingPointIeee754<T>
        => PreprocessingPipeline.Fit<T>(Data(new Rng(11), 400), PreprocessingSpec.Uniform(["a", "b", "c"], PreprocessingKind.Standardize));

    // a: integers around 5, b: log-normal (positive, or negative with negativeB), c: uniform on [0, 1] (sharp edges)
    private static Table Data(Rng rng, int n, bool negativeB = false)
    {
        var v = new double[n * D];
        for (int i = 0; i < n; i++)
        {
            v[i * D] = Math.Round(5 + 2 * rng.NextNormal());
            v[i * D + 1] = (negativeB ? -1 : 1) * Math.Exp(0.5 * rng.NextNormal());
            v[i * D + 2] = rng.NextDouble();
        }
        return new Table(["a", "b", "c"], v, n);
    }

    /// <summary>Random weights everywhere (and batch-norm running statistics), so that no layer is the identity.</summary>
    private static void Perturb<T>(FlowModel<T> model, Rng rng, double scale = 0.3) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var p in model.Flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += T.CreateTruncating(scale * rng.NextNormal());
        }
        foreach (var (name, buffer) in model.Flow.NamedBuffers())
        {
            var s = buffer.Span;
            if (name.EndsWith("running_mean", StringComparison.Ordinal)) for (int i = 0; i < s.Length; i++) s[i] = T.CreateTruncating(0.2 * rng.NextNormal());
            if (name.EndsWith("running_var", StringComparison.Ordinal)) for (int i = 0; i < s.Length; i++) s[i] = T.CreateTruncating(0.5 + rng.NextDouble());
        }
        model.Flow.Eval();
    }

    // ------------------------------------------------------------------ comparisons

    /// <summary>
    /// Compares <paramref name="model"/>'s graphs with <paramref name="reference"/>: the same model in double with the
    /// same weights. A float model's own float arithmetic is no better than ~3e-5 relative on the sequential
    /// directions (IAF density, MAF sampling: D spline inversions in a row), so float graphs are held to the exact
    /// value, which they must reach to 1e-5 as the double graphs do.
    /// </summary>
    private static void Check<T>(FlowModel<T> model, FlowModel<double> reference, bool farRows = true) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!ReferenceEquals(model, reference))
            reference.Flow.LoadStateDict(model.Flow.StateDict().ToDictionary(kv => kv.Key, kv => Tensor<double>.FromDoubles(kv.Value.ToDoubleArray(), kv.Value.Shape.ToArray())));
        reference.Flow.Eval();
        CheckLogProb(model, reference, new Rng(31), farRows);
        CheckSample(model, reference, 37);
    }

    /// <summary>The double model checked against itself, or the float model against the double one with its weights.</summary>
    private static void CheckInType(bool isDouble, Func<FlowModel<double>> makeDouble, Func<FlowModel<float>> makeFloat)
    {
        var reference = makeDouble();
        if (isDouble) Check(reference, reference);
        else Check(makeFloat(), reference);
    }

    // raw context values around 10; for a set embedding presence flags (0 or 1) and features per element
    private static float[] Context<T>(FlowModel<T> model, Rng rng, int n) where T : unmanaged, IFloatingPointIeee754<T>
        => model.EmbeddingSpec?.Kind == EmbeddingSpec.Set
            ? Enumerable.Range(0, n * model.ContextFeatures).Select(i => i % 3 == 0 ? (rng.NextDouble() < 0.7 ? 1f : 0f) : (float)rng.NextNormal()).ToArray()
            : Enumerable.Range(0, n * model.ContextFeatures).Select(_ => (float)(10 + 2 * rng.NextNormal())).ToArray();

    private static void CheckLogProb<T>(FlowModel<T> model, FlowModel<double> reference, Rng rng, bool farRows = true) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = Rows;
        var x = new float[n * D];
        var data = Data(rng, n).ToTensor<double>().ToDoubleArray();
        for (int i = 0; i < x.Length; i++) x[i] = (float)data[i];
        // beyond the spline bounds: columns far from the training range (a and b stay inside the domain)
        if (farRows)
        {
            for (int r = 0; r < 8; r++) x[r * D] = (float)(5 + (r % 2 == 0 ? 1 : -1) * (8 + 4 * r));
            for (int r = 8; r < 12; r++) x[r * D + 1] = (float)(r % 2 == 0 ? 40.0 + r : 1e-3 * r);
            // outside the preprocessing's domain where it has one (log: ≤ shift; minmax-logit: beyond the walls)
            x[12 * D + 1] = -5f; x[13 * D + 2] = 1.5f; x[14 * D + 2] = -0.5f;
            x[15 * D] = float.PositiveInfinity;
        }
        var c = model.ContextFeatures > 0 ? Context(model, rng, n) : null;
        var expected = reference.LogProb(Tensor<double>.FromDoubles(x.Select(v => (double)v).ToArray(), n, D),
            c is null ? null : Tensor<double>.FromDoubles(c.Select(v => (double)v).ToArray(), n, model.ContextFeatures));
        var actual = Run(OnnxExport.ToBytes(model, OnnxGraphKind.LogProb), "log_prob", ("x", x, D), ("context", c, model.ContextFeatures));
        Assert.Contains(expected, double.IsFinite);
        for (int r = 0; r < n; r++)
        {
            if (double.IsNegativeInfinity(expected[r])) { Assert.True(float.IsNegativeInfinity(actual[r]), $"row {r}: −∞ expected, ONNX gave {actual[r]}"); continue; }
            double tol = 1e-5 * Math.Max(1, Math.Abs(expected[r]));
            Assert.True(Math.Abs(actual[r] - expected[r]) <= tol, $"row {r}: library {expected[r]}, ONNX {actual[r]}");
        }
    }

    private static void CheckSample<T>(FlowModel<T> model, FlowModel<double> reference, long seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = Rows;
        // standard-normal noise, rounded to the graph's float32 input; the base's sample is z = μ + σ·noise for a
        // diagonal normal (as DiagonalNormal.Sample maps its draws), z = noise for the standard normal
        var noise = new Rng(seed).Normal<double>(n, D).ToDoubleArray().Select(v => (float)v).ToArray();
        var c = model.ContextFeatures > 0 ? Context(model, new Rng(41), n) : null;
        double[] expected;
        using (GradMode.Disable())
        {
            var z = Tensor<double>.FromDoubles(noise.Select(v => (double)v).ToArray(), n, D);
            if (reference.Inner.Base is DiagonalNormal<double> normal)
                z = Ops.Add(Ops.Mul(new Var<double>(z), Ops.Exp(normal.LogStd)), normal.Mean).Value;
            var cT = c is null ? null : new Var<double>(Tensor<double>.FromDoubles(c.Select(v => (double)v).ToArray(), n, model.ContextFeatures));
            var xs = reference.Flow.Transform.InverseWithoutLogDet(new Var<double>(z), cT).Value; // what Flow.Sample runs
            reference.Preprocessing?.Postprocess(xs);
            expected = xs.ToDoubleArray();
        }
        var actual = Run(OnnxExport.ToBytes(model, OnnxGraphKind.Sample), "x", ("noise", noise, D), ("context", c, model.ContextFeatures));
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = 1e-5 * Math.Max(1, Math.Abs(expected[i]));
            Assert.True(actual[i] == expected[i] || Math.Abs(actual[i] - expected[i]) <= tol, $"element {i}: library {expected[i]}, ONNX {actual[i]}");
        }
    }

    private static float[] Run(byte[] model, string output, params (string Name, float[]? Values, int Columns)[] inputs)
    {
        using var session = new InferenceSession(model);
        var feeds = inputs.Where(i => i.Values is not null)
            .Select(i => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor(i.Values, [i.Values!.Length / i.Columns, i.Columns]))).ToList();
        using var results = session.Run(feeds);
        return results.First(r => r.Name == output).AsEnumerable<float>().ToArray();
    }

    // a user conditioner the export does not know: one linear layer
    private sealed record UserNetFactory : IConditionerFactory
    {
        public string Name => "user-net";

        public System.Text.Json.Nodes.JsonObject Settings() => [];

        public Module<T> Create<T>(ConditionerShape shape, Rng rng) where T : unmanaged, IFloatingPointIeee754<T> => new UserNet<T>(shape, rng);
    }

    private sealed class UserNet<T> : Module<T>, IConditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Linear<T> _linear;

        public UserNet(ConditionerShape shape, Rng rng) => _linear = RegisterModule("linear", new Linear<T>(shape.Inputs, shape.Outputs, rng));

        public Var<T> Forward(Var<T> x, Var<T>? context) => _linear.Forward(x);
    }
}
