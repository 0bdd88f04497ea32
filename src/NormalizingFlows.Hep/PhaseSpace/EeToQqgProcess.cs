using System.Globalization;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// e⁺e⁻ → γ*/Z → q q̄ g at tree level with the full angular matrix element
/// (<see cref="EeAnnihilation.QqgSquaredAmplitude"/>),
/// summed over massless quark flavours, fixed α_s, cuts y_ij = s_ij/s &gt; y_cut on all three pairs.
/// Final state: momenta[0] = q, [1] = q̄, [2] = g. The integral over the hypercube is σ in pb; since the cuts
/// depend on invariants only it equals the Dalitz-formula value (<see cref="EeAnnihilation.QqgDalitzCrossSection"/>),
/// which <see cref="AnalyticValue"/> returns.
/// </summary>
public sealed class EeToQqgProcess : EeToJetsProcess
{
    /// <summary>
    /// Creates the process at √s (GeV) with cut <paramref name="yCut"/> ∈ (0, 1/3) and the lightest
    /// <paramref name="flavours"/> quarks (1–5: d, u, s, c, b), on the multichannel decay-chain mapping (d = 6) or
    /// RAMBO (d = 12).
    /// </summary>
    public EeToQqgProcess(double sqrtS = 91.2, double yCut = 0.01, int flavours = 5,
                          PhaseSpaceMappingKind mapping = PhaseSpaceMappingKind.Angles, StandardModelParameters? parameters = null)
        : base(3, sqrtS, yCut, flavours, mapping, parameters, ThreeBodyMultichannelMapping.ForCut, couplingsTimesColours: true)
    {
        DalitzCrossSection = EeAnnihilation.QqgDalitzCrossSection(sqrtS, yCut, Quarks, Parameters);
    }

    /// <inheritdoc/>
    public override string Name => "ee-qqg";

    /// <inheritdoc/>
    public override int ProcessId => 2;

    /// <summary>σ with the cuts in pb from the Dalitz formula (exact up to quadrature error ~1e-12).</summary>
    public double DalitzCrossSection { get; }

    /// <inheritdoc/>
    public override double? AnalyticValue => DalitzCrossSection;

    /// <inheritdoc/>
    public override string Description => string.Create(CultureInfo.InvariantCulture,
        $"e+e- -> gamma*/Z -> q qbar g ({string.Join(",", Quarks.Select(q => q.Name))}) at sqrt(s) = {SqrtS} GeV, y_ij > {YCut}, " +
        $"{MappingKind} mapping (d = {Dimensions}), alpha_s = {Parameters.AlphaS}, alpha = 1/{1 / Parameters.AlphaQed:G6}; " +
        $"Dalitz sigma = {DalitzCrossSection:G8} pb");

    /// <inheritdoc/>
    public override double SquaredAmplitude(ReadOnlySpan<FourVector> momenta) =>
        EeAnnihilation.QqgSquaredAmplitudeSummed(ElectronBeam, PositronBeam, momenta[0], momenta[1], momenta[2], SameCouplingSum, OppositeCouplingSum, S, Parameters);

    /// <inheritdoc/>
    protected override void AddFinalState(ReadOnlySpan<FourVector> momenta, Rng rng, List<LesHouchesParticle> particles)
    {
        // Flavour in proportion to its |M|² at this point: N_c [Σ_same N_same + Σ_opp N_opp].
        var k1 = ElectronBeam; var k2 = PositronBeam;
        double k1p1 = FourVector.Dot(k1, momenta[0]), k1p2 = FourVector.Dot(k1, momenta[1]);
        double k2p1 = FourVector.Dot(k2, momenta[0]), k2p2 = FourVector.Dot(k2, momenta[1]);
        double nSame = k1p2 * k1p2 + k2p1 * k2p1, nOpp = k1p1 * k1p1 + k2p2 * k2p2;
        int id = Quarks[PickFlavour(rng, nSame, nOpp)].PdgId;
        // Colour flow q(501) → g(502, 501) → q̄(0, 502).
        particles.Add(new LesHouchesParticle(id, 1, 1, 2, 501, 0, momenta[0], 0));
        particles.Add(new LesHouchesParticle(-id, 1, 1, 2, 0, 502, momenta[1], 0));
        particles.Add(new LesHouchesParticle(21, 1, 1, 2, 502, 501, momenta[2], 0));
    }

    /// <summary>SCALUP = the gluon's transverse momentum with respect to the q q̄ dipole, √(s₁₃ s₂₃ / s).</summary>
    protected override double EventScale(ReadOnlySpan<FourVector> momenta)
    {
        double s13 = 2 * FourVector.Dot(momenta[0], momenta[2]), s23 = 2 * FourVector.Dot(momenta[1], momenta[2]);
        return Math.Sqrt(Math.Max(s13 * s23 / S, 0.0));
    }
}
