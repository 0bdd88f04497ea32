using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Tests.Flows;

/// <summary>The README's C# example compiles and runs (smaller data and fewer epochs).</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void ReadmeExampleRuns()
    {
        var x = NormalizingFlows.Data.ToyDatasets.Generate("moons", 2_000).ToTensor<float>();
        var flow = FlowBuilders.NeuralSplineFlow<float>(features: 2, rng: new Rng(1));
        new MaximumLikelihoodTrainer<float>(flow, new TrainingOptions { Epochs = 2 }).Fit(new TrainingData<float>(x));
        var logp = flow.LogProb(x);
        var samples = flow.Sample(1000, new Rng(2));
        Assert.Equal(2_000, logp.Value.Length);
        Assert.True(samples.Value.HasShape(1000, 2));
        Assert.True(logp.Value.ToArray().Average(v => (double)v) > -2.5);
    }
}
