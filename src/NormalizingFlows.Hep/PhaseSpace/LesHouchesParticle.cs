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
