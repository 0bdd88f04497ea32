using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Transforms;

/// <summary>
/// A monotone spline per feature, any <see cref="IElementwiseSpline"/>: rational-quadratic (neural spline flows),
/// piecewise-linear or piecewise-quadratic. Runs the fused <see cref="SplineOp"/>.
/// </summary>
public sealed record SplineUpdate : IElementwiseUpdate
{
    /// <summary>An update with <paramref name="spline"/>.</summary>
    public SplineUpdate(IElementwiseSpline spline) => Spline = spline ?? throw new ArgumentNullException(nameof(spline));

    /// <summary>A rational-quadratic spline with <paramref name="bins"/> bins on [−bound, bound] and identity tails (nflows/zuko NSF).</summary>
    public static SplineUpdate RationalQuadratic(int bins = 8, double bound = 3.0, double minDerivative = 1e-3)
        => new(new RationalQuadraticSpline(bins, SplineDomain.Symmetric(bound), minDerivative: minDerivative));

    /// <summary>A circular rational-quadratic spline with <paramref name="bins"/> bins and a learnable shift on [−bound, bound) (angles: π).</summary>
    public static SplineUpdate Circular(int bins = 8, double bound = Math.PI, double minDerivative = 1e-3)
        => new(new CircularRationalQuadraticSpline(bins, bound, minDerivative: minDerivative));

    /// <summary>The spline family.</summary>
    public IElementwiseSpline Spline { get; }

    /// <inheritdoc/>
    public int ParametersPerFeature => Spline.ParametersPerElement;

    /// <summary>The spline's own identity parameters (<see cref="IElementwiseSpline.IdentityParameters"/>).</summary>
    public double[] IdentityParameters() => Spline.IdentityParameters();

    /// <inheritdoc/>
    public (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
        => SplineOp.Apply(Spline, input, parameters, inverse);
}
