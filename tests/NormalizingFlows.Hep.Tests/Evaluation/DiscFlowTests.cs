using NormalizingFlows.Data;
using NormalizingFlows.Flows;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using Xunit.Abstractions;

namespace NormalizingFlows.Hep.Tests.Evaluation;

public class DiscFlowTests(ITestOutputHelper output)
{
    [Fact]
    public void RefinementReducesTheAucOfAnUndertrainedFlow()
    {
        var x = ToyDatasets.Generate("moons", 10_000, 1).ToTensor<float>().Untrack();
        var train = new TrainingData<float>(x);
        var flow = FlowBuilders.NeuralSplineFlow<float>(2, layers: 3, hidden: 32, bins: 6, bound: 4, rng: new Rng(1));
        var r = DiscFlowRefinement.Run(flow, train, (f, round) => new MaximumLikelihoodTrainer<float>(f, new TrainingOptions
        {
            Epochs = 3, BatchSize = 256, LearningRate = round == 0 ? 3e-3 : 1e-3, Seed = round, ReportEverySteps = int.MaxValue,
        }), new DiscFlowOptions { Rounds = 1, Classifier = new ClassifierOptions { Seed = 5 } });
        output.WriteLine(string.Join("  ", r.Rounds.Select(q => $"round {q.Round}: AUC {q.Auc:F4} ± {q.AucError:F4}")));
        Assert.Equal(2, r.Rounds.Count);
        Assert.NotNull(r.Rounds[1].History);
        Assert.True(r.AucAfter < r.AucBefore - 3 * r.Rounds[0].AucError, $"AUC {r.AucBefore} → {r.AucAfter}");
        // every round is judged by both classifiers on the same folds; the headline is the larger AUC
        foreach (var q in r.Rounds)
        {
            var v = q.Verdict!;
            output.WriteLine($"round {q.Round}: {v.Describe()}");
            Assert.Equal(q.Auc, v.Mlp.Auc);
            Assert.Equal("GBDT", v.Trees.Judge);
            Assert.Equal(v.Mlp.FoldB, v.Trees.FoldB);
            Assert.Equal(Math.Max(v.Mlp.Auc, v.Trees.Auc), v.Auc);
        }
    }

    [Fact]
    public void OptionsAreChecked()
    {
        var flow = FlowBuilders.RealNvp<float>(2, layers: 2, hidden: 8, rng: new Rng(1));
        var train = new TrainingData<float>(new Rng(2).Normal<float>(100, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => DiscFlowRefinement.Run(flow, train, (f, _) => new MaximumLikelihoodTrainer<float>(f), new DiscFlowOptions { Rounds = 0 }));
    }
}
