namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// One event: NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP followed by the particle lines.
/// </summary>
/// <param name="ProcessId">IDPRUP, the process this event belongs to (matches an LPRUP of the init block).</param>
/// <param name="Weight">XWGTUP, the event weight (pb for weighted events).</param>
/// <param name="Scale">SCALUP, the scale of the event in GeV (the shower's starting scale).</param>
/// <param name="AlphaQed">AQEDUP, the α used.</param>
/// <param name="AlphaQcd">AQCDUP, the α_s used.</param>
/// <param name="Particles">The particle lines, incoming first.</param>
public sealed record LesHouchesEvent(int ProcessId, double Weight, double Scale, double AlphaQed, double AlphaQcd,
                                     IReadOnlyList<LesHouchesParticle> Particles);
