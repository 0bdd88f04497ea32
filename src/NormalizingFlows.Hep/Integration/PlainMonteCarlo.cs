using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Integration;

/// <summary>Plain Monte Carlo: q = 1 on [0, 1]^d, nothing to train. The baseline of the comparison.</summary>
public sealed class PlainMonteCarlo : ImportanceSamplingIntegrator
{
    /// <summary>Creates the integrator.</summary>
    public PlainMonteCarlo(IIntegrand integrand, long seed = 0) : base(integrand, seed) { }

    /// <inheritdoc/>
    public override string Method => "mc";

    /// <summary>Nothing to adapt: uses no calls.</summary>
    public override void Train(long calls) { }

    /// <inheritdoc/>
    public override void Sample(Span<double> x, Span<double> density)
    {
        if (x.Length != density.Length * Dimensions) throw new ArgumentException($"x has {x.Length} values for {density.Length} points of {Dimensions} dimensions");
        Rng.Uniform(x);
        density.Fill(1.0);
    }
}
