using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// Base of e⁺e⁻ → γ*/Z → q q̄ + gluons (<see cref="EeToQqgProcess"/>, <see cref="EeToQqggProcess"/>): massless quark
/// flavours summed over, cuts y_ij = s_ij/s &gt; y_cut on every parton pair, the process's decay-chain mapping or RAMBO.
/// </summary>
public abstract class EeToJetsProcess : PhaseSpaceProcess
{
    readonly Fermion[] _quarks;
    readonly double[] _same, _opp;

    /// <summary>
    /// Sets up n = <paramref name="partons"/> partons at √s with the cut <paramref name="yCut"/> ∈ (0, 1/C(n, 2)), the
    /// lightest <paramref name="flavours"/> quarks (1–5), and <paramref name="angles"/>(√s, y_cut) as the
    /// <see cref="PhaseSpaceMappingKind.Angles"/> mapping (RAMBO: 4n dimensions). The flavours' couplings
    /// (<see cref="EeAnnihilation.HelicitySums"/>) are multiplied by N_c when <paramref name="couplingsTimesColours"/>.
    /// </summary>
    protected EeToJetsProcess(int partons, double sqrtS, double yCut, int flavours, PhaseSpaceMappingKind mapping,
                              StandardModelParameters? parameters, Func<double, double, IPhaseSpaceMapping> angles, bool couplingsTimesColours)
        : base(CreateMapping(partons, sqrtS, yCut, mapping, angles), parameters ?? StandardModelParameters.Default)
    {
        MappingKind = mapping;
        YCut = yCut;
        _quarks = Fermion.Quarks(flavours).ToArray();
        _same = new double[_quarks.Length];
        _opp = new double[_quarks.Length];
        double sameSum = 0, oppSum = 0;
        for (int i = 0; i < _quarks.Length; i++)
        {
            var (same, opp) = EeAnnihilation.HelicitySums(_quarks[i], S, Parameters);
            double colours = couplingsTimesColours ? _quarks[i].Colours : 1;
            _same[i] = same * colours;
            _opp[i] = opp * colours;
            sameSum += _same[i];
            oppSum += _opp[i];
        }
        SameCouplingSum = sameSum;
        OppositeCouplingSum = oppSum;
    }

    /// <summary>Σ over flavours of Σ_same = |A_LL|² + |A_RR|² (times N_c if so constructed).</summary>
    protected double SameCouplingSum { get; }

    /// <summary>Σ over flavours of Σ_opp = |A_LR|² + |A_RL|² (times N_c if so constructed).</summary>
    protected double OppositeCouplingSum { get; }

    /// <summary>
    /// The index of a flavour drawn with probability ∝ Σ_same,q · <paramref name="same"/> + Σ_opp,q · <paramref name="opposite"/>
    /// (its |M|² at a point, given the equal- and opposite-chirality kinematic factors).
    /// </summary>
    protected int PickFlavour(Rng rng, double same, double opposite)
    {
        double r = rng.NextDouble() * (SameCouplingSum * same + OppositeCouplingSum * opposite);
        for (int i = 0; i < _quarks.Length; i++)
        {
            r -= _same[i] * same + _opp[i] * opposite;
            if (r < 0) return i;
        }
        return _quarks.Length - 1;
    }

    /// <summary>Σ_same,q and Σ_opp,q of flavour <paramref name="index"/> (times N_c if so constructed).</summary>
    protected (double Same, double Opposite) Couplings(int index) => (_same[index], _opp[index]);

    static IPhaseSpaceMapping CreateMapping(int partons, double sqrtS, double yCut, PhaseSpaceMappingKind mapping, Func<double, double, IPhaseSpaceMapping> angles)
    {
        int pairs = partons * (partons - 1) / 2;
        if (!(yCut > 0 && yCut < 1.0 / pairs)) throw new ArgumentOutOfRangeException(nameof(yCut), yCut, $"y_cut must lie in (0, 1/{pairs})");
        return mapping switch
        {
            PhaseSpaceMappingKind.Angles => angles(sqrtS, yCut),
            PhaseSpaceMappingKind.Rambo => new RamboMapping(partons, sqrtS),
            _ => throw new ArgumentOutOfRangeException(nameof(mapping), mapping, "unknown mapping"),
        };
    }

    /// <summary>The cut on y_ij = s_ij/s for all pairs.</summary>
    public double YCut { get; }

    /// <summary>The quark flavours summed over.</summary>
    public IReadOnlyList<Fermion> Quarks => _quarks;

    /// <summary>Which mapping the process uses.</summary>
    public PhaseSpaceMappingKind MappingKind { get; }

    /// <summary>Whether every pair has p_i·p_j &gt; y_cut s / 2.</summary>
    public override bool PassesCuts(ReadOnlySpan<FourVector> momenta)
    {
        double min = YCut * S / 2;
        for (int i = 0; i < momenta.Length; i++)
            for (int j = i + 1; j < momenta.Length; j++)
                if (!(FourVector.Dot(momenta[i], momenta[j]) > min)) return false;
        return true;
    }
}
