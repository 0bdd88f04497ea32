namespace NormalizingFlows.Hep.Inference;

/// <summary>Kinds of summary (embedding) network in front of a posterior flow's context.</summary>
public enum SummaryKind
{
    /// <summary>No network: the standardised observation is the context.</summary>
    None,
    /// <summary>A ReLU MLP x → hidden → … → summary, for fixed-length high-dimensional observations.</summary>
    Mlp,
    /// <summary>
    /// A permutation-invariant deep-sets network for sets (jets, hits): the observation is K elements of F features
    /// laid out [e₀f₀ … e₀f_F−1, e₁f₀, …]; ρ(Σₖ φ(eₖ)) with ReLU MLPs φ and ρ. Absent elements of a smaller set are
    /// given as NaN in all F features and are left out of the sum.
    /// </summary>
    SumPooling,
}
