namespace NormalizingFlows.Hep.Integration;

/// <summary>Events drawn from a <see cref="ReplayBuffer"/>: points, their integrand values and the log-density they were sampled from.</summary>
/// <param name="X">The points, row-major (n·d).</param>
/// <param name="Values">f(x) of each point, as evaluated when it was drawn.</param>
/// <param name="LogDensity">log q_old(x): the log-density of the sampler that drew each point, at the time it drew it.</param>
public sealed record BufferedSample(double[] X, double[] Values, double[] LogDensity)
{
    /// <summary>The number of events.</summary>
    public int Count => Values.Length;
}
