namespace NormalizingFlows.Transforms.Continuous;

/// <summary>The integrator of a <see cref="ContinuousTransform{T}"/>.</summary>
public enum OdeSolver
{
    /// <summary>Adaptive Dormand–Prince 5(4) with step-size control by <see cref="ContinuousFlowOptions.RelativeTolerance"/> and <see cref="ContinuousFlowOptions.AbsoluteTolerance"/>.</summary>
    DormandPrince,

    /// <summary>Classical fourth-order Runge–Kutta with <see cref="ContinuousFlowOptions.Steps"/> equal steps.</summary>
    RungeKutta4,
}
