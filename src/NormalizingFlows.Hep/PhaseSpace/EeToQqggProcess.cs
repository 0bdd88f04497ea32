using System.Globalization;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// e⁺e⁻ → γ*/Z → q q̄ g g at tree level with the exact matrix element (<see cref="EeToQqggAmplitude"/>), summed over
/// massless quark flavours, fixed α_s, cuts y_ij = s_ij/s &gt; y_cut on all six parton pairs (the same couplings and cut
/// as <see cref="EeToQqgProcess"/>). Final state: momenta[0] = q, [1] = q̄, [2], [3] = g. The integral over the
/// hypercube is σ in pb (the 1/2! of the identical gluons included); there is no analytic value.
/// </summary>
public sealed class EeToQqggProcess : EeToJetsProcess
{
    readonly double _prefactor;

    /// <summary>
    /// Creates the process at √s (GeV) with cut <paramref name="yCut"/> ∈ (0, 1/6) and the lightest
    /// <paramref name="flavours"/> quarks (1–5), on the eight-channel decay-chain mapping
    /// (<see cref="FourBodyMultichannelMapping.ForQqgg"/>, d = 9) or RAMBO (d = 16).
    /// </summary>
    public EeToQqggProcess(double sqrtS = 91.2, double yCut = 0.01, int flavours = 5,
                           PhaseSpaceMappingKind mapping = PhaseSpaceMappingKind.Angles, StandardModelParameters? parameters = null)
        : base(4, sqrtS, yCut, flavours, mapping, parameters, FourBodyMultichannelMapping.ForQqgg, couplingsTimesColours: false)
    {
        _prefactor = EeToQqggAmplitude.Prefactor(S, Parameters);
    }

    /// <inheritdoc/>
    public override string Name => "ee-qqgg";

    /// <inheritdoc/>
    public override int ProcessId => 3;

    /// <inheritdoc/>
    public override double? AnalyticValue => null;

    /// <inheritdoc/>
    public override string Description => string.Create(CultureInfo.InvariantCulture,
        $"e+e- -> gamma*/Z -> q qbar g g ({string.Join(",", Quarks.Select(q => q.Name))}) at sqrt(s) = {SqrtS} GeV, y_ij > {YCut}, " +
        $"{MappingKind} mapping (d = {Dimensions}), alpha_s = {Parameters.AlphaS}, alpha = 1/{1 / Parameters.AlphaQed:G6}");

    /// <summary>The flavour-summed |M|² times 1/2! for the identical gluons (so that σ = ∫ this dΦ₄ / (2s)).</summary>
    public override double SquaredAmplitude(ReadOnlySpan<FourVector> momenta)
    {
        var h = EeToQqggAmplitude.Sums(ElectronBeam, PositronBeam, momenta[0], momenta[1], momenta[2], momenta[3]);
        return 0.5 * _prefactor * (SameCouplingSum * h.Same + OppositeCouplingSum * h.Opposite);
    }

    /// <inheritdoc/>
    protected override void AddFinalState(ReadOnlySpan<FourVector> momenta, Rng rng, List<LesHouchesParticle> particles)
    {
        var h = EeToQqggAmplitude.Sums(ElectronBeam, PositronBeam, momenta[0], momenta[1], momenta[2], momenta[3]);
        // flavour in proportion to its |M|², colour order in proportion to its leading-colour part
        int pick = PickFlavour(rng, h.Same, h.Opposite);
        var (same, opp) = Couplings(pick);
        double first = same * h.Same12 + opp * h.Opposite12, second = same * h.Same21 + opp * h.Opposite21;
        bool order12 = rng.NextDouble() * (first + second) < first;
        int id = Quarks[pick].PdgId, near = order12 ? 2 : 3, far = order12 ? 3 : 2;
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
