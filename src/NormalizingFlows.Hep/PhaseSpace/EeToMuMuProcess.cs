using System.Globalization;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// e⁺e⁻ → γ*/Z → μ⁺μ⁻ at tree level (massless muons, full γ–Z interference, Breit–Wigner Z). Final state:
/// momenta[0] = μ⁻, momenta[1] = μ⁺. No cuts. The integral over the hypercube is σ in pb, known analytically
/// (<see cref="EeAnnihilation.PairCrossSection"/>).
/// </summary>
public sealed class EeToMuMuProcess : PhaseSpaceProcess
{
    readonly double _same, _opp;

    /// <summary>
    /// Creates the process at √s (GeV) on the two-body angle mapping (d = 2) or RAMBO (d = 8).
    /// </summary>
    public EeToMuMuProcess(double sqrtS = 91.2, PhaseSpaceMappingKind mapping = PhaseSpaceMappingKind.Angles, StandardModelParameters? parameters = null)
        : base(mapping switch
        {
            PhaseSpaceMappingKind.Angles => new TwoBodyMapping(sqrtS),
            PhaseSpaceMappingKind.Rambo => new RamboMapping(2, sqrtS),
            _ => throw new ArgumentOutOfRangeException(nameof(mapping), mapping, "unknown mapping"),
        }, parameters ?? StandardModelParameters.Default)
    {
        MappingKind = mapping;
        (_same, _opp) = EeAnnihilation.HelicitySums(Fermion.Muon, S, Parameters);
        AnalyticCrossSection = EeAnnihilation.PairCrossSection(Fermion.Muon, sqrtS, Parameters);
        AnalyticForwardBackwardAsymmetry = EeAnnihilation.PairForwardBackwardAsymmetry(Fermion.Muon, sqrtS, Parameters);
    }

    /// <inheritdoc/>
    public override string Name => "ee-mumu";

    /// <inheritdoc/>
    public override int ProcessId => 1;

    /// <summary>Which mapping the process uses.</summary>
    public PhaseSpaceMappingKind MappingKind { get; }

    /// <summary>σ(e⁺e⁻ → μ⁺μ⁻) in pb from the analytic formula.</summary>
    public double AnalyticCrossSection { get; }

    /// <summary>The analytic forward–backward asymmetry of the μ⁻ with the e⁻ beam.</summary>
    public double AnalyticForwardBackwardAsymmetry { get; }

    /// <inheritdoc/>
    public override double? AnalyticValue => AnalyticCrossSection;

    /// <inheritdoc/>
    public override string Description => string.Create(CultureInfo.InvariantCulture,
        $"e+e- -> gamma*/Z -> mu+mu- at sqrt(s) = {SqrtS} GeV, {MappingKind} mapping (d = {Dimensions}), " +
        $"M_Z = {Parameters.ZMass}, Gamma_Z = {Parameters.ZWidth}, sin2thetaW = {Parameters.SinSquaredThetaW}, alpha = 1/{1 / Parameters.AlphaQed:G6}; " +
        $"analytic sigma = {AnalyticCrossSection:G8} pb, A_FB = {AnalyticForwardBackwardAsymmetry:G6}");

    /// <inheritdoc/>
    public override bool PassesCuts(ReadOnlySpan<FourVector> momenta) => true;

    /// <inheritdoc/>
    public override double SquaredAmplitude(ReadOnlySpan<FourVector> momenta) =>
        EeAnnihilation.PairSquaredAmplitude(ElectronBeam, momenta[0], momenta[1], _same * Fermion.Muon.Colours, _opp * Fermion.Muon.Colours, S, Parameters);

    /// <inheritdoc/>
    protected override void AddFinalState(ReadOnlySpan<FourVector> momenta, Rng rng, List<LesHouchesParticle> particles)
    {
        particles.Add(new LesHouchesParticle(Fermion.Muon.PdgId, 1, 1, 2, 0, 0, momenta[0], 0));
        particles.Add(new LesHouchesParticle(-Fermion.Muon.PdgId, 1, 1, 2, 0, 0, momenta[1], 0));
    }

    /// <inheritdoc/>
    protected override double EventScale(ReadOnlySpan<FourVector> momenta) => SqrtS;
}
