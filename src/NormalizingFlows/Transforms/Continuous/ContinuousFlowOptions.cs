namespace NormalizingFlows.Transforms.Continuous;

/// <summary>Solver and trace settings of a <see cref="ContinuousTransform{T}"/>.</summary>
public sealed record ContinuousFlowOptions
{
    /// <summary>The integrator (default adaptive Dormand–Prince 5(4)).</summary>
    public OdeSolver Solver { get; init; } = OdeSolver.DormandPrince;

    /// <summary>Relative tolerance of the adaptive solver (per row, RMS over the state).</summary>
    public double RelativeTolerance { get; init; } = 1e-5;

    /// <summary>Absolute tolerance of the adaptive solver.</summary>
    public double AbsoluteTolerance { get; init; } = 1e-5;

    /// <summary>Equal steps of the fixed-step RK4 solver over t ∈ [0, 1].</summary>
    public int Steps { get; init; } = 32;

    /// <summary>Most step attempts of the adaptive solver per solve; more throws an error naming the tolerances.</summary>
    public int MaxSteps { get; init; } = 10_000;

    /// <summary>The trace of ∂v/∂x: exact (default) or Hutchinson's estimator.</summary>
    public TraceEstimator Trace { get; init; } = TraceEstimator.Exact;

    /// <summary>Seed of the Rademacher probes of <see cref="TraceEstimator.Hutchinson"/>.</summary>
    public long ProbeSeed { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(RelativeTolerance > 0) || !double.IsFinite(RelativeTolerance))
            throw new ArgumentException($"{nameof(RelativeTolerance)} must be positive and finite, got {RelativeTolerance}");
        if (!(AbsoluteTolerance > 0) || !double.IsFinite(AbsoluteTolerance))
            throw new ArgumentException($"{nameof(AbsoluteTolerance)} must be positive and finite, got {AbsoluteTolerance}");
        if (Steps < 1) throw new ArgumentException($"{nameof(Steps)} must be ≥ 1, got {Steps}");
        if (MaxSteps < 1) throw new ArgumentException($"{nameof(MaxSteps)} must be ≥ 1, got {MaxSteps}");
        if (!Enum.IsDefined(Solver)) throw new ArgumentException($"unknown {nameof(Solver)} {Solver}");
        if (!Enum.IsDefined(Trace)) throw new ArgumentException($"unknown {nameof(Trace)} {Trace}");
    }
}
