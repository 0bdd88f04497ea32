namespace NormalizingFlows.Hep.Integration;

/// <summary>An integrand whose reference value is computed by deterministic quadrature (no closed form).</summary>
public interface IQuadratureReference
{
    /// <summary>∫ f dx and the quadrature's error estimate, by adaptive Gauss–Kronrod quadrature.</summary>
    (double Value, double Error) ComputeReference();
}
