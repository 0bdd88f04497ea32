namespace NormalizingFlows.Transforms.Splines;

/// <summary>
/// A monotone spline family (<see cref="IElementwiseMap"/>) on an interval (<see cref="Domain"/>), with its identity
/// parameters. Inputs outside the domain are mapped linearly, or wrapped by the circular spline (never NaN).
/// </summary>
public interface IElementwiseSpline : IElementwiseMap
{
    /// <summary>Interval mapping and tail convention.</summary>
    SplineDomain Domain { get; }

    /// <summary>
    /// The unnormalised parameters of one element's identity map (equal bins, unit slope); by default all 0, which is
    /// the identity of families whose parameters are normalised bin masses (piecewise-linear, piecewise-quadratic).
    /// </summary>
    double[] IdentityParameters() => new double[ParametersPerElement];
}
