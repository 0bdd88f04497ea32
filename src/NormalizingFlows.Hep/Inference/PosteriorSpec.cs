using NormalizingFlows.Models;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// Everything needed to rebuild a <see cref="PosteriorEstimator{T}"/>: the flow over the parameters (its
/// <see cref="FlowSpec.ContextFeatures"/> is the summary's output size), the summary network, and the names of the
/// parameters and observation features.
/// </summary>
public sealed record PosteriorSpec
{
    /// <summary>The conditional flow p(θ' | context) over standardised parameters θ'.</summary>
    public required FlowSpec Flow { get; init; }

    /// <summary>The summary network between the standardised observation and the flow's context.</summary>
    public SummarySpec Summary { get; init; } = new();

    /// <summary>Parameter names (θ columns).</summary>
    public required string[] ParameterNames { get; init; }

    /// <summary>Observation feature names (x columns).</summary>
    public required string[] ObservationNames { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistency.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Flow);
        ArgumentNullException.ThrowIfNull(Summary);
        if (ParameterNames is null || ParameterNames.Length == 0) throw new ArgumentException("a posterior needs at least one parameter");
        if (ObservationNames is null || ObservationNames.Length == 0) throw new ArgumentException("a posterior needs at least one observation feature");
        Flow.Validate();
        Summary.Validate(ObservationNames.Length);
        if (Flow.Features != ParameterNames.Length) throw new ArgumentException($"the flow models {Flow.Features} features but there are {ParameterNames.Length} parameters");
        int context = Summary.ContextFeatures(ObservationNames.Length);
        if (Flow.ContextFeatures != context) throw new ArgumentException($"the flow takes {Flow.ContextFeatures} context features but the summary gives {context}");
    }
}
