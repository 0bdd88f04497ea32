using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// Base of the e⁺e⁻ processes: beams e⁻ (+z) and e⁺ (−z) of energy √s/2 each; f(x) = |M|² w / (2s) · (ħc)²
/// (pb) where the point passes the cuts, else 0. Stateless, so <see cref="Evaluate(ReadOnlySpan{double}, Span{double})"/>
/// may run on several threads at once.
/// </summary>
public abstract class PhaseSpaceProcess : IPhaseSpaceProcess
{
    readonly double _flux;

    /// <summary>Sets the mapping and parameters (validated).</summary>
    protected PhaseSpaceProcess(IPhaseSpaceMapping mapping, StandardModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        Mapping = mapping;
        Parameters = parameters;
        double e = mapping.SqrtS / 2;
        ElectronBeam = new FourVector(e, 0, 0, e);
        PositronBeam = new FourVector(e, 0, 0, -e);
        _flux = StandardModelParameters.GeVm2ToPicobarn / (2 * S);
    }

    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <inheritdoc/>
    public abstract int ProcessId { get; }

    /// <inheritdoc/>
    public abstract string Description { get; }

    /// <inheritdoc/>
    public abstract double? AnalyticValue { get; }

    /// <inheritdoc/>
    public int Dimensions => Mapping.Dimensions;

    /// <inheritdoc/>
    public double SqrtS => Mapping.SqrtS;

    /// <summary>s = (√s)² in GeV².</summary>
    public double S => Mapping.SqrtS * Mapping.SqrtS;

    /// <inheritdoc/>
    public IPhaseSpaceMapping Mapping { get; }

    /// <summary>The Standard-Model parameters of the matrix element.</summary>
    public StandardModelParameters Parameters { get; }

    /// <summary>The incoming e⁻ momentum k₁ = (√s/2)(1, 0, 0, 1).</summary>
    public FourVector ElectronBeam { get; }

    /// <summary>The incoming e⁺ momentum k₂ = (√s/2)(1, 0, 0, −1).</summary>
    public FourVector PositronBeam { get; }

    /// <inheritdoc/>
    public void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        int d = Dimensions;
        if (x.Length != values.Length * d)
            throw new ArgumentException($"x has {x.Length} coordinates, expected {values.Length} points × {d} dimensions = {values.Length * d}", nameof(x));
        Span<FourVector> p = stackalloc FourVector[Mapping.Particles];
        for (int i = 0; i < values.Length; i++) values[i] = Evaluate(x.Slice(i * d, d), p);
    }

    /// <summary>
    /// f at one point (pb), writing the final-state momenta to <paramref name="momenta"/> (length n; unspecified
    /// when the mapping rejects the point).
    /// </summary>
    public double Evaluate(ReadOnlySpan<double> x, Span<FourVector> momenta)
    {
        double w = Mapping.Map(x, momenta);
        return Value(momenta, w);
    }

    /// <summary>
    /// f = |M|² w / (2s) · (ħc)² (pb) at momenta a mapping produced with weight <paramref name="weight"/>; 0 where the
    /// weight is not positive, the momenta fail the cuts or the value is not finite.
    /// </summary>
    public double Value(ReadOnlySpan<FourVector> momenta, double weight)
    {
        if (!(weight > 0) || !PassesCuts(momenta)) return 0.0;
        double v = SquaredAmplitude(momenta) * weight * _flux;
        return double.IsFinite(v) && v > 0 ? v : 0.0;
    }

    /// <summary>Whether the final-state momenta pass the process's cuts.</summary>
    public abstract bool PassesCuts(ReadOnlySpan<FourVector> momenta);

    /// <summary>The spin-averaged, colour-summed |M|² (summed over the flavours the process includes).</summary>
    public abstract double SquaredAmplitude(ReadOnlySpan<FourVector> momenta);

    /// <inheritdoc/>
    public LesHouchesEvent? CreateEvent(ReadOnlySpan<double> x, double weight, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (x.Length != Dimensions) throw new ArgumentException($"point has {x.Length} coordinates, the process has {Dimensions}", nameof(x));
        var p = new FourVector[Mapping.Particles];
        if (Evaluate(x, p) <= 0) return null;
        var particles = new List<LesHouchesParticle>(2 + p.Length)
        {
            new(Fermion.Electron.PdgId, -1, 0, 0, 0, 0, ElectronBeam, 0),
            new(-Fermion.Electron.PdgId, -1, 0, 0, 0, 0, PositronBeam, 0),
        };
        AddFinalState(p, rng, particles);
        return new LesHouchesEvent(ProcessId, weight, EventScale(p), Parameters.AlphaQed, Parameters.AlphaS, particles);
    }

    /// <summary>Appends the final-state particle lines (mothers 1 and 2) for momenta that pass the cuts.</summary>
    protected abstract void AddFinalState(ReadOnlySpan<FourVector> momenta, Rng rng, List<LesHouchesParticle> particles);

    /// <summary>SCALUP of an event (GeV).</summary>
    protected abstract double EventScale(ReadOnlySpan<FourVector> momenta);

    /// <inheritdoc/>
    public LesHouchesInit CreateInit(double crossSection, double error, double maxWeight) =>
        new(Fermion.Electron.PdgId, -Fermion.Electron.PdgId, SqrtS / 2, SqrtS / 2, 3,
            new[] { new LesHouchesProcess(crossSection, error, maxWeight, ProcessId) });
}
