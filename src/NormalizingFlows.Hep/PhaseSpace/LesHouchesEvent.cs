namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// One particle line of a Les Houches event: IDUP ISTUP MOTHUP(1..2) ICOLUP(1..2) PUP(1..5) VTIMUP SPINUP.
/// Mothers are 1-based positions in the event (0: none); colour tags ≥ 501 by convention, 0: none.
/// </summary>
/// <param name="Id">PDG id (IDUP).</param>
/// <param name="Status">ISTUP: −1 incoming, 1 outgoing final state, 2 intermediate resonance.</param>
/// <param name="Mother1">First mother (MOTHUP1).</param>
/// <param name="Mother2">Second mother (MOTHUP2).</param>
/// <param name="Colour">Colour line tag (ICOLUP1).</param>
/// <param name="AntiColour">Anticolour line tag (ICOLUP2).</param>
/// <param name="Momentum">Four-momentum in GeV (PUP1..4 = px, py, pz, E).</param>
/// <param name="Mass">Generated mass in GeV (PUP5).</param>
/// <param name="Lifetime">Proper lifetime cτ in mm (VTIMUP).</param>
/// <param name="Spin">Cosine of the spin angle with the mother (SPINUP); 9 means unknown.</param>
public sealed record LesHouchesParticle(int Id, int Status, int Mother1, int Mother2, int Colour, int AntiColour,
                                        FourVector Momentum, double Mass, double Lifetime = 0, double Spin = 9);

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

/// <summary>One process line of the init block: XSECUP XERRUP XMAXUP LPRUP.</summary>
/// <param name="CrossSection">XSECUP, the cross section in pb.</param>
/// <param name="Error">XERRUP, its statistical error in pb.</param>
/// <param name="MaxWeight">XMAXUP, the maximum event weight.</param>
/// <param name="ProcessId">LPRUP, the process id used in the events' IDPRUP.</param>
public sealed record LesHouchesProcess(double CrossSection, double Error, double MaxWeight, int ProcessId);

/// <summary>
/// The init block: IDBMUP(1..2) EBMUP(1..2) PDFGUP(1..2) PDFSUP(1..2) IDWTUP NPRUP followed by one
/// <see cref="LesHouchesProcess"/> line per process.
/// </summary>
/// <param name="BeamA">PDG id of beam 1 (along +z).</param>
/// <param name="BeamB">PDG id of beam 2.</param>
/// <param name="EnergyA">Energy of beam 1 in GeV.</param>
/// <param name="EnergyB">Energy of beam 2 in GeV.</param>
/// <param name="WeightStrategy">IDWTUP: 3 for unweighted events that all carry the same weight.</param>
/// <param name="Processes">The processes (NPRUP = count).</param>
public sealed record LesHouchesInit(int BeamA, int BeamB, double EnergyA, double EnergyB, int WeightStrategy,
                                    IReadOnlyList<LesHouchesProcess> Processes)
{
    /// <summary>PDFGUP of the two beams (0: no PDF, as for lepton beams).</summary>
    public (int A, int B) PdfGroup { get; init; }

    /// <summary>PDFSUP of the two beams (0: no PDF).</summary>
    public (int A, int B) PdfSet { get; init; }
}

/// <summary>A Les Houches Event file's content: the init block and the events.</summary>
/// <param name="Init">The init block.</param>
/// <param name="Events">The events in file order.</param>
public sealed record LesHouchesFile(LesHouchesInit Init, IReadOnlyList<LesHouchesEvent> Events);
