using System.Numerics;
using System.Text.Json.Nodes;
using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Coupling;

namespace NormalizingFlows.Tests.Models;

/// <summary>The README's user-conditioner example compiles and runs (the same code, a temporary file).</summary>
public sealed class ReadmeUserConditionerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-readme-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void CouplingFlowWithAUserConditionerTrainsSavesLoadsAndSamples()
    {
        string path = Path.Combine(_dir, "moons.nflow");
        var x = NormalizingFlows.Data.ToyDatasets.Generate("moons", 2_000).ToTensor<float>();
        var rng = new Rng(1);
        var net = new TanhNetFactory(Hidden: 32);
        var flow = new Flow<float>(new CompositeTransform<float>(
            new CouplingTransform<float>(CouplingMask.Alternating(2), SplineUpdate.RationalQuadratic(bins: 8), rng, conditioner: net),
            new CouplingTransform<float>(CouplingMask.Alternating(2, even: false), new AffineUpdate(), rng, conditioner: net)),
            new StandardNormal<float>(2));
        double before = flow.LogProb(x).Value.ToArray().Average(v => (double)v);
        new MaximumLikelihoodTrainer<float>(flow, new TrainingOptions { Epochs = 2 }).Fit(new TrainingData<float>(x));
        ModelFile.Save(path, FlowModel<float>.FromFlow(flow));

        FlowArchitecture.RegisterConditioner("tanh-net", s => new TanhNetFactory(s["hidden"]!.GetValue<int>()));
        var loaded = ModelFile.Load<float>(path);
        var samples = loaded.Flow.Sample(1000, new Rng(2));

        Assert.True(samples.Value.HasShape(1000, 2));
        double after = loaded.Flow.LogProb(x).Value.ToArray().Average(v => (double)v);
        Assert.True(after > before + 0.1, $"training did not raise the log-likelihood: {before} → {after}");
        Assert.Equal(flow.LogProb(x).Value.ToArray(), loaded.Flow.LogProb(x).Value.ToArray());
    }

    private sealed class TanhNet<T> : Module<T>, IConditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Linear<T> _hidden, _out;

        public TanhNet(ConditionerShape s, int hidden, Rng rng)
        {
            _hidden = RegisterModule("hidden", new Linear<T>(s.Inputs + s.ContextFeatures, hidden, rng));
            _out = RegisterModule("out", new Linear<T>(hidden, s.Outputs, rng, init: LinearInit.Zeros));
            s.InitialiseIdentityBias(_out.Bias!.Value);
        }

        public Var<T> Forward(Var<T> x, Var<T>? c) => _out.Forward(Ops.Tanh(_hidden.Forward(c is null ? x : Ops.ConcatColumns(x, c))));
    }

    private sealed record TanhNetFactory(int Hidden) : IConditionerFactory
    {
        public string Name => "tanh-net";

        public JsonObject Settings() => new() { ["hidden"] = Hidden };

        public Module<T> Create<T>(ConditionerShape s, Rng rng) where T : unmanaged, IFloatingPointIeee754<T> => new TanhNet<T>(s, Hidden, rng);
    }
}
