using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// DiscFlow (Butter et al., arXiv:2110.13632, as summarised in the seeds' "Further improvements II" slide): train the
/// flow, fit a classifier of training data against flow samples, and retrain with the likelihood loss weighted per
/// data event by the classifier, L = −Σᵢ uᵢ log q(xᵢ), so that the regions the flow gets wrong count more.
/// <para>
/// The weight convention. The seed writes w = NN/(1 − NN) = p_truth/p_generated and the loss L = −Σᵢ (1/w(xᵢ)) log q(xᵢ)
/// ("bad points are more important"). With w = p_data/p_model taken literally, uᵢ = 1/w makes the weighted data
/// distribution u·p_data equal to p_model itself, so the weighted maximum-likelihood optimum is the current model
/// and nothing is learned; the slide's intent (and the paper's D/(1 − D) with D the model-class output) is the
/// inverse, uᵢ = p_data/p_model, which raises the weight of under-populated regions. We therefore use
/// uᵢ = w(xᵢ)^α with w = p_data/p_model (DCTR, <see cref="Reweighting"/>) and α = <see cref="DiscFlowOptions.WeightExponent"/>
/// (1 by default; −1 reproduces the formula literally), clipped to [MinWeight, MaxWeight] and multiplied into any
/// event weights the training data carry. The weights come from out-of-fold classifier scores of the training events.
/// </para>
/// <para>The AUC is reported before and after every round (training data against fresh samples of the same size), by
/// the MLP and, on the same folds, by gradient-boosted trees (<see cref="DiscFlowRound.Verdict"/>).</para>
/// </summary>
public static class DiscFlowRefinement
{
    /// <summary>
    /// Runs the loop on <paramref name="flow"/>. <paramref name="trainerFactory"/>(flow, round) makes the trainer of
    /// each fit: round 0 is the initial training (skipped when <paramref name="trainFirst"/> is false, for an already
    /// trained flow), round r ≥ 1 the r-th weighted retraining (which continues from the current parameters).
    /// <paramref name="validation"/>, when given, is used by the initial training only (its unweighted likelihood
    /// would pull the retraining back).
    /// </summary>
    public static DiscFlowResult Run<T>(Flow<T> flow, TrainingData<T> train, Func<Flow<T>, int, MaximumLikelihoodTrainer<T>> trainerFactory,
        DiscFlowOptions? options = null, bool trainFirst = true, TrainingData<T>? validation = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(trainerFactory);
        options ??= new DiscFlowOptions();
        if (options.Rounds < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Rounds, "DiscFlowOptions.Rounds must be ≥ 1");
        if (!(options.MinWeight > 0 && options.MaxWeight > options.MinWeight)) throw new ArgumentException("DiscFlowOptions: need 0 < MinWeight < MaxWeight");
        train.Validate();
        var rng = new Rng(options.Seed);
        var dataColumns = Columns(train.X);
        double[]? eventWeights = train.Weights?.ToDoubleArray();
        int nSamples = options.Samples ?? train.Rows;
        var rounds = new List<DiscFlowRound>();
        TrainingHistory? history = null;
        if (trainFirst) history = trainerFactory(flow, 0).Fit(train, validation);
        for (int r = 0; ; r++)
        {
            var samples = SampleColumns(flow, nSamples, rng);
            var rw = Reweighting.Dctr(dataColumns, samples, new ReweightingOptions
            {
                Classifier = options.Classifier with { Seed = unchecked(options.Classifier.Seed + 101 * r) },
                MinWeight = 1e-6, MaxWeight = 1e6,
                Trees = options.Trees,
            }, eventWeights);
            rounds.Add(new DiscFlowRound(r, rw.Test.Auc, rw.Test.AucError, history) { Verdict = rw.Verdict });
            if (r == options.Rounds) break;
            var u = new double[train.Rows];
            for (int i = 0; i < u.Length; i++)
                u[i] = Math.Clamp(Math.Pow(rw.DataDensityRatio[i], options.WeightExponent), options.MinWeight, options.MaxWeight) * (eventWeights?[i] ?? 1);
            double mean = u.Average();
            var wt = Tensor<T>.Empty(train.Rows).Untrack();
            for (int i = 0; i < u.Length; i++) wt.Span[i] = T.CreateTruncating(u[i] / mean);
            history = trainerFactory(flow, r + 1).Fit(train with { Weights = wt });
        }
        return new DiscFlowResult(rounds);
    }

    /// <summary>The columns of a [N, D] tensor (<c>result[j][i]</c>).</summary>
    public static double[][] Columns<T>(Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2) throw new ArgumentException($"expected [rows, features], got {x.ShapeString}");
        int n = x.Dim(0), d = x.Dim(1);
        var c = new double[d][];
        for (int j = 0; j < d; j++) c[j] = new double[n];
        var s = x.ReadOnlySpan;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) c[j][i] = double.CreateTruncating(s[i * d + j]);
        return c;
    }

    /// <summary><paramref name="n"/> samples of <paramref name="flow"/> as columns, drawn in evaluation mode in batches.</summary>
    public static double[][] SampleColumns<T>(Flow<T> flow, int n, Rng rng, int batchSize = 8192) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(rng);
        if (flow.ContextFeatures > 0) throw new ArgumentException("SampleColumns needs an unconditional flow");
        int d = flow.Features;
        var c = new double[d][];
        for (int j = 0; j < d; j++) c[j] = new double[n];
        bool wasTraining = flow.Training;
        flow.Eval();
        try
        {
            using var _ = GradMode.Disable();
            for (int start = 0; start < n; start += batchSize)
            {
                int b = Math.Min(batchSize, n - start);
                using var scope = TensorScope.Begin();
                var s = flow.Sample(b, rng).Value.ReadOnlySpan;
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < d; j++) c[j][start + i] = double.CreateTruncating(s[i * d + j]);
            }
        }
        finally
        {
            if (wasTraining) flow.Train();
        }
        return c;
    }
}
