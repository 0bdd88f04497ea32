using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Flows;

/// <summary>
/// A normalizing flow: a base distribution and an invertible transform whose Forward maps data to the base.
/// log p(x) = log p_base(T(x)) + log|det ∂T/∂x|; sampling draws z from the base and returns T⁻¹(z).
/// With context features it is a conditional flow p(x | c): the context reaches every conditioner (and the base).
/// </summary>
public class Flow<T> : Distribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Builds a flow from <paramref name="transform"/> and <paramref name="baseDistribution"/>.</summary>
    public Flow(Transform<T> transform, Distribution<T> baseDistribution)
        : base(transform.Features, Math.Max(transform.ContextFeatures, baseDistribution.ContextFeatures))
    {
        if (baseDistribution.Features != transform.Features)
            throw new ArgumentException($"the base has {baseDistribution.Features} features, the transform {transform.Features}");
        Transform = RegisterModule("transform", transform);
        Base = RegisterModule("base", baseDistribution);
    }

    /// <summary>The data → base transform.</summary>
    public Transform<T> Transform { get; }

    /// <summary>The base distribution.</summary>
    public Distribution<T> Base { get; }

    /// <summary>
    /// log p(x | context) per row ([N]), differentiable. Throws a clear error naming the row and column of a NaN or
    /// infinite input.
    /// </summary>
    public override Var<T> LogProb(Var<T> x, Var<T>? context = null)
    {
        CheckInput(x, context);
        CheckFinite(x.Value, "input");
        if (context is not null) CheckFinite(context.Value, "context");
        int rows = x.Value.Dim(0);
        int shards = RowShards.ShardsFor(rows);
        if (shards < 2 || !IsRowWise()) return LogProbRows(x, context);
        return RowShards.Map(rows, shards, [x, context], this, static (flow, block, outputs) => outputs.Add(flow.LogProbRows(block[0]!, block[1])))[0];
    }

    private Var<T> LogProbRows(Var<T> x, Var<T>? context)
    {
        var (z, logDet) = Transform.Forward(x, context);
        return Ops.Add(Base.LogProb(z, context), logDet);
    }

    /// <summary>T⁻¹(z | context), split over the worker threads when the batch is large and the flow row-wise.</summary>
    private (Var<T> X, Var<T> LogAbsDet) InverseRows(Var<T> z, Var<T>? context)
    {
        int rows = z.Value.Dim(0);
        int shards = RowShards.ShardsFor(rows);
        if (shards < 2 || !IsRowWise()) return Transform.Inverse(z, context);
        var r = RowShards.Map(rows, shards, [z, context], Transform, static (transform, block, outputs) =>
        {
            var (x, ld) = transform.Inverse(block[0]!, block[1]);
            outputs.Add(x);
            outputs.Add(ld);
        });
        return (r[0], r[1]);
    }

    /// <summary>n samples (one per context row when conditional), without gradients.</summary>
    public override Var<T> Sample(int n, Rng rng, Var<T>? context = null)
    {
        CheckCount(n);
        CheckContext(context, n);
        using var _ = GradMode.Disable();
        var z = Base.Sample(n, rng, context);
        int rows = z.Value.Dim(0), shards = RowShards.ShardsFor(rows);
        if (shards < 2 || !IsRowWise()) return Transform.InverseWithoutLogDet(z, context);
        return RowShards.Map(rows, shards, [z, context], Transform, static (transform, block, outputs) => outputs.Add(transform.InverseWithoutLogDet(block[0]!, block[1])))[0];
    }

    /// <summary>
    /// n samples with their log-density log p(x | context), differentiable with respect to the flow's parameters
    /// (for reverse-KL training, i-flow and distillation).
    /// </summary>
    public (Var<T> X, Var<T> LogProb) SampleWithLogProb(int n, Rng rng, Var<T>? context = null)
    {
        CheckCount(n);
        CheckContext(context, n);
        var z = Base.Sample(n, rng, context);
        var logBase = Base.LogProb(z, context);
        var (x, logDetInverse) = InverseRows(z, context);
        return (x, Ops.Sub(logBase, logDetInverse));
    }

    private static void CheckFinite(Tensor<T> t, string what)
    {
        var s = t.ReadOnlySpan;
        int cols = Math.Max(1, t.Cols);
        for (int i = 0; i < s.Length; i++)
            if (!T.IsFinite(s[i]))
                throw new ArgumentException($"{what} row {i / cols}, column {i % cols} is {s[i]}: flows need finite values (drop or impute such rows first)");
    }
}
