using NormalizingFlows.Flows;
using NormalizingFlows.Hep.Evaluation;
using NormalizingFlows.Hep.Reports;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Tests.Reports;

public class EvaluationReportTests
{
    private static double[][] Gaussian(int n, int d, double shift, Rng rng) =>
        Enumerable.Range(0, d).Select(j => Enumerable.Range(0, n).Select(_ => rng.NextNormal() + (j == 0 ? shift : 0)).ToArray()).ToArray();

    [Fact]
    public void ReportRendersEverySectionWithoutNaNOrScripts()
    {
        var rng = new Rng(1);
        var flow = FlowBuilders.RealNvp<float>(3, layers: 2, hidden: 8, rng: new Rng(2));
        var test = Gaussian(2000, 3, 0.2, rng);
        var samples = DiscFlowRefinement.SampleColumns(flow, 2000, rng);
        var history = new TrainingHistory();
        history.Epochs.Add(new EpochRecord(1, 10, 3.0, -2.9, 1e-3, 0.1));
        history.Epochs.Add(new EpochRecord(2, 20, 2.8, null, 1e-3, 0.1));
        var two = ClassifierTwoSampleTest.Run(test, samples, new ClassifierOptions { Epochs = 3, Seed = 1 });
        var html = EvaluationReport.Build(flow, ["pT", "eta <1>", "phi"], test, samples, history, two).Render();
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.True(html.Split("<svg").Length - 1 >= 3 + 3 + 6 + 1 + 2, "marginals, ratios, 3 pairs × 2, training, ROC and scores");
        Assert.Contains("test log-likelihood", html);
        Assert.Contains("classifier AUC", html);
        Assert.Contains("eta &lt;1&gt;", html);
        Assert.DoesNotContain("NaN", html);
        Assert.DoesNotContain("Infinity", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("src=\"http", html);
    }

    [Fact]
    public void TwoJudgeReportGivesBothAucsAndTheLargerAsHeadline()
    {
        var rng = new Rng(5);
        var flow = FlowBuilders.RealNvp<float>(2, layers: 2, hidden: 8, rng: new Rng(2));
        var test = Gaussian(1500, 2, 0.4, rng);
        var samples = DiscFlowRefinement.SampleColumns(flow, 1500, rng);
        var verdict = ClassifierTwoSampleTest.RunBoth(test, samples, new ClassifierOptions { Epochs = 3, Seed = 1, Folds = 3 },
            new GradientBoostedTreesOptions { Trees = 30 });
        var html = System.Net.WebUtility.HtmlDecode(EvaluationReport.Build(flow, ["a", "b"], test, samples, null, verdict).Render());
        Assert.Contains("classifier AUC (the larger of two judges)", html);
        Assert.Contains($"{verdict.Auc:F4} ± {verdict.AucError:F4} by {verdict.Headline.Judge}", html);
        Assert.Contains($"AUC {verdict.Mlp.Auc:F4} ± {verdict.Mlp.AucError:F4}, 3-fold", html);
        Assert.Contains($"AUC {verdict.Trees.Auc:F4} ± {verdict.Trees.AucError:F4}, 3-fold", html);
        Assert.Contains("ROC (GBDT)", html);
        Assert.Contains("ROC (MLP)", html);
        Assert.DoesNotContain("NaN", html);
    }

    [Fact]
    public void ManyFeaturesShowNeighbouringPairsAndOptionalPartsMayBeMissing()
    {
        var rng = new Rng(3);
        var test = Gaussian(500, 9, 0, rng);
        var samples = Gaussian(400, 9, 0, rng);
        var names = Enumerable.Range(0, 9).Select(i => $"f{i}").ToArray();
        var html = EvaluationReport.Build(names, test, samples, null).Render();
        Assert.Contains("Showing 8 of 36 pairs", html);
        Assert.DoesNotContain("classifier AUC", html);
        Assert.DoesNotContain("NaN", html);
        Assert.Throws<ArgumentException>(() => EvaluationReport.Build(names[..8], test, samples, null));
    }

    [Fact]
    public void RocAndSicPlotsRender()
    {
        var rng = new Rng(4);
        var roc = Roc.Compute(Enumerable.Range(0, 3000).Select(_ => rng.NextNormal() + 1).ToArray(), Enumerable.Range(0, 3000).Select(_ => rng.NextNormal()).ToArray());
        var svg = EvaluationPlots.RocCurve(roc).Render() + EvaluationPlots.Sic(Roc.Sic(roc)).Render();
        Assert.Contains("AUC 0.7", svg);
        Assert.Contains("stroke-dasharray", svg);
        Assert.DoesNotContain("NaN", svg);
    }
}
