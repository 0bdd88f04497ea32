using System.Numerics;

namespace NormalizingFlows.Transforms;

/// <summary>
/// A family of monotone scalar maps, one per element, each given by <see cref="ParametersPerElement"/> unnormalised
/// parameters stored contiguously: pure functions on spans with analytic gradients (backward methods ADD into their
/// gradient outputs), run as one fused op by <see cref="SplineOp"/>. Splines (<see cref="Splines.IElementwiseSpline"/>)
/// and the deep sigmoidal map (<see cref="Monotonic.SigmoidalMap"/>) are such families.
/// </summary>
public interface IElementwiseMap
{
    /// <summary>Unnormalised parameters per element.</summary>
    int ParametersPerElement { get; }

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
