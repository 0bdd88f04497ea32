namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>Which phase-space mapping a process integrates with.</summary>
public enum PhaseSpaceMappingKind
{
    /// <summary>
    /// The process's physical variables: cos θ, φ for two bodies; for three bodies the five variables of the
    /// decay chain (production and decay angles, propagator virtuality) plus a channel variable.
    /// </summary>
    Angles,

    /// <summary>RAMBO, flat in phase space, 4n variables for n particles.</summary>
    Rambo,
}
