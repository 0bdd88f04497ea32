namespace NormalizingFlows.Hep.PhaseSpace;

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
