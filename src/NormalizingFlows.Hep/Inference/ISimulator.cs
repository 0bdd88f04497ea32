using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// A simulator of (parameters θ, observation x) pairs: θ drawn from the prior, x from p(x | θ). The training set of a
/// <see cref="PosteriorEstimator{T}"/> and the ground truth of the calibration checks.
/// </summary>
public interface ISimulator
{
    /// <summary>Names of the parameters θ (one per column of <c>Theta</c>).</summary>
    IReadOnlyList<string> ParameterNames { get; }

    /// <summary>Names of the observation features x (one per column of <c>X</c>).</summary>
    IReadOnlyList<string> ObservationNames { get; }

    /// <summary>
    /// <paramref name="n"/> independent pairs: <c>Theta</c> is [n, ParameterNames.Count] and <c>X</c> is
    /// [n, ObservationNames.Count], both row-major. Deterministic for the state of <paramref name="rng"/>.
    /// </summary>
    (double[] Theta, double[] X) Sample(int n, Rng rng);
}

/// <summary>Helpers shared by the simulators.</summary>
internal static class SimulatorChecks
{
    public static void Count(int n)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "the number of simulated pairs must be ≥ 0");
    }
}
