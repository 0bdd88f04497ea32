using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// A toy with a two-mode posterior: θ ~ N(0, I₂), x₀ = θ₀² + ε₀, x₁ = θ₁ + ε₁ with ε ~ N(0, σ²). Only θ₀² is seen, so
/// for x₀ well above σ the posterior of θ₀ has two mirror-image modes near ±√x₀ with exactly half the mass in each
/// (a flow that collapses onto one mode fails <see cref="ExactPosteriorTheta0"/>'s symmetry); θ₁'s posterior is Gaussian.
/// </summary>
public sealed class BimodalSimulator : ISimulator
{
    /// <summary>Creates the toy with noise standard deviations <paramref name="noiseSquare"/> (on x₀) and <paramref name="noiseLinear"/> (on x₁).</summary>
    public BimodalSimulator(double noiseSquare = 0.3, double noiseLinear = 0.5)
    {
        if (!(noiseSquare > 0) || !(noiseLinear > 0)) throw new ArgumentOutOfRangeException(nameof(noiseSquare), "noise levels must be positive");
        NoiseSquare = noiseSquare;
        NoiseLinear = noiseLinear;
    }

    /// <summary>σ of the noise on x₀ = θ₀².</summary>
    public double NoiseSquare { get; }

    /// <summary>σ of the noise on x₁ = θ₁.</summary>
    public double NoiseLinear { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ParameterNames { get; } = ["theta0", "theta1"];

    /// <inheritdoc/>
    public IReadOnlyList<string> ObservationNames { get; } = ["x0", "x1"];

    /// <inheritdoc/>
    public (double[] Theta, double[] X) Sample(int n, Rng rng)
    {
        SimulatorChecks.Count(n);
        ArgumentNullException.ThrowIfNull(rng);
        var theta = new double[2 * n];
        var x = new double[2 * n];
        for (int r = 0; r < n; r++)
        {
            double t0 = rng.NextNormal(), t1 = rng.NextNormal();
            theta[2 * r] = t0; theta[2 * r + 1] = t1;
            x[2 * r] = t0 * t0 + NoiseSquare * rng.NextNormal();
            x[2 * r + 1] = t1 + NoiseLinear * rng.NextNormal();
        }
        return (theta, x);
    }

    /// <summary>
    /// The exact posterior density of θ₀ given x₀ on the grid <paramref name="grid"/> (normalised by the trapezoid rule
    /// over the grid): p(θ₀ | x₀) ∝ N(θ₀; 0, 1)·N(x₀; θ₀², σ²).
    /// </summary>
    public double[] ExactPosteriorTheta0(double x0, ReadOnlySpan<double> grid)
    {
        var p = new double[grid.Length];
        double max = double.NegativeInfinity;
        for (int i = 0; i < grid.Length; i++)
        {
            double t = grid[i], r = (x0 - t * t) / NoiseSquare;
            p[i] = -0.5 * t * t - 0.5 * r * r;
            max = Math.Max(max, p[i]);
        }
        double z = 0;
        for (int i = 0; i < grid.Length; i++) p[i] = Math.Exp(p[i] - max);
        for (int i = 1; i < grid.Length; i++) z += 0.5 * (p[i] + p[i - 1]) * (grid[i] - grid[i - 1]);
        for (int i = 0; i < grid.Length; i++) p[i] /= z;
        return p;
    }
}
