using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    /// <summary>Solves at a fine tolerance in double (the matrix's 1e−8 round trip and finite-difference Jacobian are of the solved map), at float precision in float.</summary>
    internal static ContinuousFlowOptions FineOde<T>() where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(double) ? new() { RelativeTolerance = 1e-10, AbsoluteTolerance = 1e-10 } : new() { RelativeTolerance = 1e-6, AbsoluteTolerance = 1e-6 };

    private static Transform<T> Cnf<T>(Rng r, int features, int context = 0, ContinuousFlowOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
        => new ContinuousTransform<T>(new VectorField<T>(features, hidden: 6, layers: 2, r, context, timeFrequencies: 1), options ?? FineOde<T>());

    /// <summary>Continuous flows (ODE), adaptive and fixed-step, unconditional and conditional.</summary>
    public static readonly TransformCase[] Continuous =
    [
        new("continuous_dopri5", r => Cnf<double>(r, 3), r => Cnf<float>(r, 3), 3),
        new("continuous_dopri5_conditional", r => Cnf<double>(r, 2, context: 2), r => Cnf<float>(r, 2, context: 2), 2, ContextFeatures: 2),
        // fixed-step RK4: the round trip and the trace's log|det J| match the discrete map to O(h⁴), below the
        // matrix's 1e−8 at 256 steps of this small field
        new("continuous_rk4", r => Cnf<double>(r, 3, options: FixedSteps(256)), r => Cnf<float>(r, 3, options: FixedSteps(64)), 3),
        new("continuous_rk4_conditional", r => Cnf<double>(r, 2, context: 2, options: FixedSteps(256)), r => Cnf<float>(r, 2, context: 2, options: FixedSteps(64)), 2, ContextFeatures: 2),
    ];

    private static ContinuousFlowOptions FixedSteps(int steps) => new() { Solver = OdeSolver.RungeKutta4, Steps = steps };
}
