namespace NormalizingFlows.Transforms.Continuous;

/// <summary>How a <see cref="ContinuousTransform{T}"/> computes tr(∂v/∂x) in the instantaneous change of variables.</summary>
public enum TraceEstimator
{
    /// <summary>The exact trace: D Jacobian-vector products per evaluation (batched into one pass), for small D (≲ 30).</summary>
    Exact,

    /// <summary>Hutchinson's estimator εᵀ(∂v/∂x)ε with one Rademacher probe ε per row and solve (seeded), unbiased for any D.</summary>
    Hutchinson,
}
