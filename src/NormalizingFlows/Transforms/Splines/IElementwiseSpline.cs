using System.Numerics;

namespace NormalizingFlows.Transforms.Splines;

/// <summary>
/// A family of monotone scalar maps, one per element, each given by <see cref="ParametersPerElement"/> unnormalised
/// parameters stored contiguously. Pure functions on spans with analytic gradients; backward methods ADD into their
/// gradient outputs. Inputs outside the domain are mapped linearly, or wrapped by the circular spline (never NaN).
/// </summary>
public interface IElementwiseSpline
{
    /// <summary>Unnormalised parameters per element.</summary>
    int ParametersPerElement { get; }

    /// <summary>Interval mapping and tail convention.</summary>
    SplineDomain Domain { get; }

    /// <summary>
    /// The unnormalised parameters of one element's identity map (equal bins, unit slope); by default all 0, which is
    /// the identity of families whose parameters are normalised bin masses (piecewise-linear, piecewise-quadratic).
    /// </summary>
    double[] IdentityParameters() => new double[ParametersPerElement];

    /// <summary>y = s(x) and log|ds/dx|.</summary>
    void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, Span<T> y, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>x = s⁻¹(y) and log|dx/dy|.</summary>
    void Inverse<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, Span<T> x, Span<T> logAbsDet) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Adds dL/dx and dL/dparameters given dL/dy and dL/dlogAbsDet of <see cref="Forward"/>.</summary>
    void ForwardBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradY, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradX, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Adds dL/dy and dL/dparameters given dL/dx and dL/dlogAbsDet of <see cref="Inverse"/>.</summary>
    void InverseBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> parameters, ReadOnlySpan<T> gradX, ReadOnlySpan<T> gradLogAbsDet,
        Span<T> gradY, Span<T> gradParameters) where T : unmanaged, IFloatingPointIeee754<T>;
}
