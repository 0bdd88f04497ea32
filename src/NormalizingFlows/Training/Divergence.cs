namespace NormalizingFlows.Training;

/// <summary>The divergence between a target p = f/∫f and a flow's density q that a <see cref="SampledDivergenceLoss{T}"/> minimises.</summary>
public enum Divergence
{
    /// <summary>Kullback–Leibler D(p‖q) = ∫ p log(p/q).</summary>
    KullbackLeibler,
    /// <summary>Pearson χ² ∫ (p − q)²/q = ∫ p²/q − 1: the variance of the importance weights p/q.</summary>
    Variance,
    /// <summary>The exponential divergence ∫ p (log p − log q)².</summary>
    Exponential,
}
