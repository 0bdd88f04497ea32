using System.Globalization;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// e⁺e⁻ → γ*/Z → q q̄ g g at tree level with the exact matrix element (<see cref="EeToQqggAmplitude"/>), summed over
/// massless quark flavours, fixed α_s, cuts y_ij = s_ij/s &gt; y_cut on all six parton pairs (the same couplings and cut
/// as <see cref="EeToQqgProcess"/>). Final state: momenta[0] = q, [1] = q̄, [2], [3] = g. The integral over the
/// hypercube is σ in pb (the 1/2! of the identical gluons included); there is no analytic value.
/// </summary>
public sealed class EeToQqggProcess : PhaseSpaceProcess
{
    readonly Fermion[] _quarks;
    readonly double _sameSum, _oppSum, _prefactor;
    readonly double[] _same, _opp;

    /// <summary>
    /// Creates the process at √s (GeV) with cut <paramref name="yCut"/> ∈ (0, 1/6) and the lightest
    /// <paramref name="flavours"/> quarks (1–5), on the eight-channel decay-chain mapping
    /// (<see cref="FourBodyMultichannelMapping.ForQqgg"/>, d = 9) or RAMBO (d = 16).
    /// </summary>
    public EeToQqggProcess(double sqrtS = 91.2, double yCut = 0.01, int flavours = 5,
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
            (_same[i], _opp[i]) = EeAnnihilation.HelicitySums(_quarks[i], S, Parameters);
            _sameSum += _same[i];
            _oppSum += _opp[i];
        }
        _prefactor = EeToQqggAmplitude.Prefactor(S, Parameters);
    }

    static IPhaseSpaceMapping CreateMapping(double sqrtS, double yCut, PhaseSpaceMappingKind mapping)
    {
        if (!(yCut > 0 && yCut < 1.0 / 6)) throw new ArgumentOutOfRangeException(nameof(yCut), yCut, "y_cut must lie in (0, 1/6) for four partons");
        return mapping switch
        {
            PhaseSpaceMappingKind.Angles => FourBodyMultichannelMapping.ForQqgg(sqrtS, yCut),
            PhaseSpaceMappingKind.Rambo => new RamboMapping(4, sqrtS),
            _ => throw new ArgumentOutOfRangeException(nameof(mapping), mapping, "unknown mapping"),
        };
    }

    /// <inheritdoc/>
    public override string Name => "ee-qqgg";

    /// <inheritdoc/>
    public override int ProcessId => 3;

    /// <summary>The cut on y_ij = s_ij/s for all pairs.</summary>
    public double YCut { get; }

    /// <summary>The quark flavours summed over.</summary>
    public IReadOnlyList<Fermion> Quarks => _quarks;

    /// <summary>Which mapping the process uses.</summary>
    public PhaseSpaceMappingKind MappingKind { get; }

    /// <inheritdoc/>
    public override double? AnalyticValue => null;

    /// <inheritdoc/>
    public override string Description => string.Create(CultureInfo.InvariantCulture,
        $"e+e- -> gamma*/Z -> q qbar g g ({string.Join(",", _quarks.Select(q => q.Name))}) at sqrt(s) = {SqrtS} GeV, y_ij > {YCut}, " +
        $"{MappingKind} mapping (d = {Dimensions}), alpha_s = {Parameters.AlphaS}, alpha = 1/{1 / Parameters.AlphaQed:G6}");

    /// <inheritdoc/>
    public override bool PassesCuts(ReadOnlySpan<FourVector> momenta)
    {
        double min = YCut * S / 2; // p_i·p_j > y_cut s / 2
        for (int i = 0; i < 4; i++)
            for (int j = i + 1; j < 4; j++)
                if (!(FourVector.Dot(momenta[i], momenta[j]) > min)) return false;
        return true;
    }

    /// <summary>The flavour-summed |M|² times 1/2! for the identical gluons (so that σ = ∫ this dΦ₄ / (2s)).</summary>
    public override double SquaredAmplitude(ReadOnlySpan<FourVector> momenta)
    {
        var h = EeToQqggAmplitude.Sums(ElectronBeam, PositronBeam, momenta[0], momenta[1], momenta[2], momenta[3]);
        return 0.5 * _prefactor * (_sameSum * h.Same + _oppSum * h.Opposite);
    }

    /// <inheritdoc/>
    protected override void AddFinalState(ReadOnlySpan<FourVector> momenta, Rng rng, List<LesHouchesParticle> particles)
    {
        var h = EeToQqggAmplitude.Sums(ElectronBeam, PositronBeam, momenta[0], momenta[1], momenta[2], momenta[3]);
        // flavour in proportion to its |M|², colour order in proportion to its leading-colour part
        double r = rng.NextDouble() * (_sameSum * h.Same + _oppSum * h.Opposite);
        int pick = _quarks.Length - 1;
        for (int i = 0; i < _quarks.Length; i++)
        {
            r -= _same[i] * h.Same + _opp[i] * h.Opposite;
            if (r < 0) { pick = i; break; }
        }
        double first = _same[pick] * h.Same12 + _opp[pick] * h.Opposite12, second = _same[pick] * h.Same21 + _opp[pick] * h.Opposite21;
        bool order12 = rng.NextDouble() * (first + second) < first;
        int id = _quarks[pick].PdgId, near = order12 ? 2 : 3, far = order12 ? 3 : 2;
        // colour flow q(501) → g_near(502, 501) → g_far(503, 502) → q̄(0, 503)
        var lines = new LesHouchesParticle[4];
        lines[0] = new LesHouchesParticle(id, 1, 1, 2, 501, 0, momenta[0], 0);
        lines[1] = new LesHouchesParticle(-id, 1, 1, 2, 0, 503, momenta[1], 0);
        lines[near] = new LesHouchesParticle(21, 1, 1, 2, 502, 501, momenta[near], 0);
        lines[far] = new LesHouchesParticle(21, 1, 1, 2, 503, 502, momenta[far], 0);
        particles.AddRange(lines);
    }

    /// <summary>SCALUP = √(min s_ij), the smallest pair mass.</summary>
    protected override double EventScale(ReadOnlySpan<FourVector> momenta)
    {
        double min = double.PositiveInfinity;
        for (int i = 0; i < 4; i++)
            for (int j = i + 1; j < 4; j++)
                min = Math.Min(min, 2 * FourVector.Dot(momenta[i], momenta[j]));
        return Math.Sqrt(Math.Max(min, 0.0));
    }
}
