using NormalizingFlows.Hep.Integration;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// A scattering process as an integrand on the unit hypercube: f(x) = |M|²(p(x)) · w(x) / (2s) · (ħc)², with
/// p(x) the final-state momenta of a phase-space mapping and w(x) its weight, zero outside the cuts. Its integral
/// over [0, 1]^d is the cross section in pb; a point x (e.g. one kept by unweighting) becomes an event.
/// </summary>
public interface IPhaseSpaceProcess : IIntegrand
{
    /// <summary>The centre-of-mass energy √s in GeV.</summary>
    double SqrtS { get; }

    /// <summary>The phase-space mapping from the hypercube to the final-state momenta.</summary>
    IPhaseSpaceMapping Mapping { get; }

    /// <summary>The process id (Les Houches LPRUP / IDPRUP).</summary>
    int ProcessId { get; }

    /// <summary>A one-line human-readable description (process, √s, cuts, mapping, parameters).</summary>
    string Description { get; }

    /// <summary>
    /// The event for the point <paramref name="x"/> (length <see cref="IIntegrand.Dimensions"/>) with event weight
    /// <paramref name="weight"/>: beams, final-state particles with PDG ids, status, mothers, colour lines and
    /// momenta. Discrete choices the integrand sums over (e.g. the quark flavour) are drawn from
    /// <paramref name="rng"/> in proportion to their contribution at x. Returns null where f(x) = 0.
    /// </summary>
    LesHouchesEvent? CreateEvent(ReadOnlySpan<double> x, double weight, Rng rng);

    /// <summary>The Les Houches init block for this process with the given cross section ± error (pb) and maximum weight.</summary>
    LesHouchesInit CreateInit(double crossSection, double error, double maxWeight);
}
