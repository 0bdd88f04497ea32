namespace NormalizingFlows.Hep.Integration;

/// <summary>The divergence between p = f/∫f and the flow's density q that i-flow training minimises.</summary>
public enum IntegrationLoss
{
    /// <summary>Kullback–Leibler D(p‖q) = ∫ p log(p/q).</summary>
    KullbackLeibler,
    /// <summary>Pearson χ² ∫ (p − q)²/q = ∫ p²/q − 1: the variance of the weights, what integration error depends on.</summary>
    Variance,
    /// <summary>The exponential divergence ∫ p (log p − log q)².</summary>
    Exponential,
}
