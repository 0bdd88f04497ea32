namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// The result of <see cref="ImportanceSamplingIntegrator.Integrate"/>: the estimate of ∫ f dx with its standard error
/// (iterations combined by inverse-variance weighting, χ²/dof of their compatibility), and the quality of the
/// importance weights w = f/q of the integration sample.
/// </summary>
public sealed record IntegrationResult
{
    /// <summary>"mc", "vegas" or "flow".</summary>
    public required string Method { get; init; }

    /// <summary>The integrand's name.</summary>
    public required string Integrand { get; init; }

    /// <summary>The estimate of ∫ f dx.</summary>
    public required double Estimate { get; init; }

    /// <summary>Its standard error.</summary>
    public required double Error { get; init; }

    /// <summary>The iterations that were combined.</summary>
    public required IReadOnlyList<IterationEstimate> Iterations { get; init; }

    /// <summary>χ² per degree of freedom of the iterations around the combined estimate (NaN for one iteration).</summary>
    public required double ChiSquaredPerDof { get; init; }

    /// <summary>Integrand calls of this integration (not counting training / adaptation).</summary>
    public required long Calls { get; init; }

    /// <summary>Integrand calls of the integrator so far, training or adaptation included.</summary>
    public required long TotalCalls { get; init; }

    /// <summary>Statistics of the weights of the integration sample.</summary>
    public required WeightStatistics Weights { get; init; }

    /// <summary>Error / |Estimate|.</summary>
    public double RelativeError => Error / Math.Abs(Estimate);

    /// <summary>(Estimate − reference) / Error: the deviation in standard errors from a known value.</summary>
    public double Pull(double reference) => (Estimate - reference) / Error;
}
