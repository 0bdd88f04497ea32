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
public sealed class EeToQqgProcess : PhaseSpaceProcess
{
    readonly Fermion[] _quarks;
    readonly double _sameSum, _oppSum;
    readonly double[] _same, _opp;

    /// <summary>
    /// Creates the process at √s (GeV) with cut <paramref name="yCut"/> ∈ (0, 1/3) and the lightest
    /// <paramref name="flavours"/> quarks (1–5: d, u, s, c, b), on the multichannel decay-chain mapping (d = 6) or
    /// RAMBO (d = 12).
    /// </summary>
    public EeToQqgProcess(double sqrtS = 91.2, double yCut = 0.01, int flavours = 5,
                          PhaseSpaceMappingKind mapping = PhaseSpaceMappingKind.Angles, StandardModelParameters? parameters = null)
        : base(CreateMapping(sqrtS, yCut, mapping), parameters ?? StandardModelParameters.Default)
    {
        MappingKind = mapping;
        YCut = yCut;
        _quarks = Fermion.Quarks(flavours).ToArray();
        _same = new double[_quarks.Length];
        _opp = new double[_quarks.Length];
        for (int i = 0; i < _quarks.Length; i++)
        {
            var (same, opp) = EeAnnihilation.HelicitySums(_quarks[i], S, Parameters);
            _same[i] = same * _quarks[i].Colours;
            _opp[i] = opp * _quarks[i].Colours;
            _sameSum += _same[i];
            _oppSum += _opp[i];
        }
        DalitzCrossSection = EeAnnihilation.QqgDalitzCrossSection(sqrtS, yCut, _quarks, Parameters);
    }

    static IPhaseSpaceMapping CreateMapping(double sqrtS, double yCut, PhaseSpaceMappingKind mapping)
    {
        if (!(yCut > 0 && yCut < 1.0 / 3)) throw new ArgumentOutOfRangeException(nameof(yCut), yCut, "y_cut must lie in (0, 1/3)");
        return mapping switch
        {
            PhaseSpaceMappingKind.Angles => ThreeBodyMultichannelMapping.ForCut(sqrtS, yCut),
            PhaseSpaceMappingKind.Rambo => new RamboMapping(3, sqrtS),
            _ => throw new ArgumentOutOfRangeException(nameof(mapping), mapping, "unknown mapping"),
        };
    }

    /// <inheritdoc/>
    public override string Name => "ee-qqg";

    /// <inheritdoc/>
    public override int ProcessId => 2;

    /// <summary>The cut on y_ij = s_ij/s for all pairs.</summary>
    public double YCut { get; }

    /// <summary>The quark flavours summed over.</summary>
    public IReadOnlyList<Fermion> Quarks => _quarks;

    /// <summary>Which mapping the process uses.</summary>
    public PhaseSpaceMappingKind MappingKind { get; }

    /// <summary>σ with the cuts in pb from the Dalitz formula (exact up to quadrature error ~1e-12).</summary>
    public double DalitzCrossSection { get; }

    /// <inheritdoc/>
    public override double? AnalyticValue => DalitzCrossSection;

    /// <inheritdoc/>
    public override string Description => string.Create(CultureInfo.InvariantCulture,
        $"e+e- -> gamma*/Z -> q qbar g ({string.Join(",", _quarks.Select(q => q.Name))}) at sqrt(s) = {SqrtS} GeV, y_ij > {YCut}, " +
        $"{MappingKind} mapping (d = {Dimensions}), alpha_s = {Parameters.AlphaS}, alpha = 1/{1 / Parameters.AlphaQed:G6}; " +
        $"Dalitz sigma = {DalitzCrossSection:G8} pb");

    /// <inheritdoc/>
    public override bool PassesCuts(ReadOnlySpan<FourVector> momenta)
    {
        double min = YCut * S / 2; // p_i·p_j > y_cut s / 2
        return FourVector.Dot(momenta[0], momenta[1]) > min
            && FourVector.Dot(momenta[0], momenta[2]) > min
            && FourVector.Dot(momenta[1], momenta[2]) > min;
    }

    /// <inheritdoc/>
    public override double SquaredAmplitude(ReadOnlySpan<FourVector> momenta) =>
        EeAnnihilation.QqgSquaredAmplitudeSummed(ElectronBeam, PositronBeam, momenta[0], momenta[1], momenta[2], _sameSum, _oppSum, S, Parameters);

    /// <inheritdoc/>
    protected override void AddFinalState(ReadOnlySpan<FourVector> momenta, Rng rng, List<LesHouchesParticle> particles)
    {
        // Flavour in proportion to its |M|² at this point: N_c [Σ_same N_same + Σ_opp N_opp].
        var k1 = ElectronBeam; var k2 = PositronBeam;
        double k1p1 = FourVector.Dot(k1, momenta[0]), k1p2 = FourVector.Dot(k1, momenta[1]);
        double k2p1 = FourVector.Dot(k2, momenta[0]), k2p2 = FourVector.Dot(k2, momenta[1]);
        double nSame = k1p2 * k1p2 + k2p1 * k2p1, nOpp = k1p1 * k1p1 + k2p2 * k2p2;
        double total = _sameSum * nSame + _oppSum * nOpp, r = rng.NextDouble() * total;
        int pick = _quarks.Length - 1;
        for (int i = 0; i < _quarks.Length; i++)
        {
            r -= _same[i] * nSame + _opp[i] * nOpp;
            if (r < 0) { pick = i; break; }
        }
        int id = _quarks[pick].PdgId;
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
