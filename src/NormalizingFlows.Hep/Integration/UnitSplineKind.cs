namespace NormalizingFlows.Hep.Integration;

/// <summary>The monotone [0, 1] → [0, 1] spline of the coupling layers.</summary>
public enum UnitSplineKind
{
    /// <summary>Piecewise-linear (Müller et al.): a piecewise-constant conditional density.</summary>
    PiecewiseLinear,
    /// <summary>Piecewise-quadratic (Müller et al.): a piecewise-linear continuous density.</summary>
    PiecewiseQuadratic,
    /// <summary>Rational-quadratic (Durkan et al.) with learnable boundary derivatives.</summary>
    RationalQuadratic,
}
