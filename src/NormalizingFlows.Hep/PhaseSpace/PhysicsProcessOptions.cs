namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>Options of the named physics processes (<see cref="PhysicsProcesses"/>).</summary>
public sealed record PhysicsProcessOptions
{
    /// <summary>Centre-of-mass energy √s in GeV (default 91.2).</summary>
    public double SqrtS { get; init; } = 91.2;

    /// <summary>Cut y_ij = s_ij/s &gt; y_cut on all parton pairs of ee-qqg and ee-qqgg (default 0.01; ignored by ee-mumu).</summary>
    public double YCut { get; init; } = 0.01;

    /// <summary>Number of massless quark flavours summed in ee-qqg and ee-qqgg, 1–5 (d, u, s, c, b; default 5).</summary>
    public int Flavours { get; init; } = 5;

    /// <summary>The phase-space mapping (default: the physical angles/virtuality/channel variables).</summary>
    public PhaseSpaceMappingKind Mapping { get; init; } = PhaseSpaceMappingKind.Angles;

    /// <summary>Standard-Model parameters (default PDG values).</summary>
    public StandardModelParameters Parameters { get; init; } = StandardModelParameters.Default;
}
