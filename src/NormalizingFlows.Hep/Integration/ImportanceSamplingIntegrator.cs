using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// Importance-sampling Monte Carlo integration of an <see cref="IIntegrand"/> over [0, 1]^d with a sampling density q
/// that an integrator adapts (<see cref="Train"/>): ∫ f dx = E_q[f/q]. The three integrators (plain Monte Carlo,
/// VEGAS, i-flow) share this shape (as MadNIS's Integrator): <see cref="Train"/> with a budget of integrand calls,
/// then <see cref="Integrate"/> with iterations combined by inverse-variance weighting, and
/// <see cref="GenerateUnweighted"/> for accept/reject event generation. Every integrand call is counted in
/// <see cref="FunctionCalls"/> (matrix elements are the expensive part). Deterministic for a seed.
/// </summary>
public abstract class ImportanceSamplingIntegrator
{
    private double[]? _lastWeights;

    /// <summary>Creates the integrator for <paramref name="integrand"/>, seeding its random stream with <paramref name="seed"/>.</summary>
    protected ImportanceSamplingIntegrator(IIntegrand integrand, long seed)
    {
        Integrand = integrand ?? throw new ArgumentNullException(nameof(integrand));
        if (integrand.Dimensions < 1) throw new ArgumentException($"integrand '{integrand.Name}' has {integrand.Dimensions} dimensions; need at least 1", nameof(integrand));
        Rng = new Rng(seed);
    }

    /// <summary>The integrand.</summary>
    public IIntegrand Integrand { get; }

    /// <summary>The dimension d.</summary>
    public int Dimensions => Integrand.Dimensions;

    /// <summary>Short method name: "mc", "vegas" or "flow".</summary>
    public abstract string Method { get; }

    /// <summary>Integrand calls made so far (training, integration and unweighting).</summary>
    public long FunctionCalls { get; private set; }

    /// <summary>Points drawn and evaluated per batch (memory vs overhead; default 16 384).</summary>
    public int BatchSize { get; init; } = 16_384;

    /// <summary>The integrator's random stream.</summary>
    protected Rng Rng { get; }

    /// <summary>Adapts q to f using about <paramref name="calls"/> integrand calls (none for plain Monte Carlo).</summary>
    public abstract void Train(long calls);

    /// <summary>
    /// Draws n = <paramref name="density"/>.Length points x ~ q into <paramref name="x"/> (row-major, n·d) and their
    /// densities q(x) into <paramref name="density"/>; q is normalised on [0, 1]^d.
    /// </summary>
    public abstract void Sample(Span<double> x, Span<double> density);

    /// <summary>Called with every batch of an integration iteration (VEGAS accumulates its grid refinement data).</summary>
    protected virtual void OnBatch(ReadOnlySpan<double> x, ReadOnlySpan<double> values, ReadOnlySpan<double> density) { }

    /// <summary>Called at the end of every integration iteration (VEGAS refines its grid).</summary>
    protected virtual void OnIterationEnd() { }

    /// <summary>values[i] = f(x_i), counted in <see cref="FunctionCalls"/>; throws if f returns a negative or non-finite value.</summary>
    protected void Evaluate(ReadOnlySpan<double> x, Span<double> values)
    {
        Integrand.Evaluate(x, values);
        FunctionCalls += values.Length;
        for (int i = 0; i < values.Length; i++)
            if (!(values[i] >= 0) || !double.IsFinite(values[i]))
                throw new InvalidOperationException($"integrand '{Integrand.Name}' returned {values[i]} at point {FormatPoint(x.Slice(i * Dimensions, Dimensions))}: it must be finite and ≥ 0");
    }

    /// <summary>
    /// Estimates ∫ f dx with <paramref name="calls"/> integrand calls split into <paramref name="iterations"/> equal
    /// iterations, combined by inverse-variance weighting (χ²/dof reported). The weights of all iterations give
    /// <see cref="IntegrationResult.Weights"/> (robust maximum at <paramref name="quantile"/>).
    /// </summary>
    public IntegrationResult Integrate(long calls, int iterations = 1, double quantile = 0.999)
    {
        if (iterations < 1) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "need at least one iteration");
        if (calls < 2L * iterations) throw new ArgumentOutOfRangeException(nameof(calls), calls, $"need at least 2 calls per iteration ({iterations} iterations)");
        if (calls > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(calls), calls, "at most 2^31 − 1 calls per integration");
        long before = FunctionCalls;
        var weights = new double[calls];
        var estimates = new List<IterationEstimate>(iterations);
        long offset = 0;
        for (int it = 0; it < iterations; it++)
        {
            long n = calls / iterations + (it < calls % iterations ? 1 : 0);
            estimates.Add(RunIteration(weights.AsSpan((int)offset, (int)n)));
            offset += n;
            OnIterationEnd();
        }
        _lastWeights = weights;
        var (value, error, chi2) = Combine(estimates);
        return new IntegrationResult
        {
            Method = Method,
            Integrand = Integrand.Name,
            Estimate = value,
            Error = error,
            Iterations = estimates,
            ChiSquaredPerDof = chi2,
            Calls = FunctionCalls - before,
            TotalCalls = FunctionCalls,
            Weights = WeightStatistics.Compute(weights, quantile),
        };
    }

    /// <summary>
    /// One iteration over weights.Length points: fills the importance weights f/q and returns the estimate with its
    /// standard error (the default: mean and s/√n of the weights; VEGAS overrides it for stratified sampling).
    /// </summary>
    protected virtual IterationEstimate RunIteration(Span<double> weights)
    {
        int d = Dimensions, total = weights.Length;
        int batch = Math.Min(BatchSize, total);
        var x = new double[batch * d];
        var q = new double[batch];
        var f = new double[batch];
        for (int start = 0; start < total; start += batch)
        {
            int n = Math.Min(batch, total - start);
            var xs = x.AsSpan(0, n * d); var qs = q.AsSpan(0, n); var fs = f.AsSpan(0, n);
            Sample(xs, qs);
            Evaluate(xs, fs);
            for (int i = 0; i < n; i++) weights[start + i] = fs[i] == 0 ? 0 : fs[i] / qs[i];
            OnBatch(xs, fs, qs);
        }
        var (mean, se) = MeanAndError(weights);
        return new IterationEstimate(mean, se, total);
    }

    /// <summary>
    /// Draws unweighted events: weighted events x ~ q with w = f/q are accepted with probability min(1, w/max);
    /// accepted overweights (w &gt; max) keep the event weight w/max. The maximum is <paramref name="maxWeight"/> when
    /// given, else the <paramref name="quantile"/> of the weights of the last <see cref="Integrate"/> (or of a fresh
    /// calibration sample of <paramref name="calibrationCalls"/> points). Stops with an error after
    /// <paramref name="maxTrials"/> weighted events.
    /// </summary>
    public UnweightingResult GenerateUnweighted(int events, double? maxWeight = null, double quantile = 0.999, int calibrationCalls = 100_000,
        long maxTrials = 1_000_000_000)
    {
        if (events < 1) throw new ArgumentOutOfRangeException(nameof(events), events, "need at least one event");
        if (!(quantile > 0 && quantile <= 1)) throw new ArgumentOutOfRangeException(nameof(quantile), quantile, "quantile must lie in (0, 1]");
        double max;
        if (maxWeight is { } m)
        {
            if (!(m > 0) || !double.IsFinite(m)) throw new ArgumentOutOfRangeException(nameof(maxWeight), m, "the maximum weight must be positive and finite");
            max = m;
        }
        else
        {
            var w = _lastWeights;
            if (w is null)
            {
                if (calibrationCalls < 1) throw new ArgumentOutOfRangeException(nameof(calibrationCalls), calibrationCalls, "need calibration points");
                w = WeightsOf(calibrationCalls);
            }
            max = WeightStatistics.Quantile(w, quantile);
            if (!(max > 0)) throw new InvalidOperationException($"integrand '{Integrand.Name}' vanished on all {w.Length} calibration points: cannot set a maximum weight");
        }

        int d = Dimensions, batch = BatchSize;
        var x = new double[batch * d];
        var q = new double[batch];
        var f = new double[batch];
        var outEvents = new double[(long)events * d];
        var outWeights = new double[events];
        int accepted = 0;
        long trials = 0;
        while (accepted < events)
        {
            if (trials >= maxTrials)
                throw new InvalidOperationException($"unweighting stopped after {trials} weighted events with {accepted} of {events} accepted (maximum weight {max:G4})");
            // size the batch to the events still missing at the efficiency so far (+10 %), so little is evaluated in vain
            double eff = trials > 0 && accepted > 0 ? (double)accepted / trials : 0;
            int k = eff > 0 ? (int)Math.Clamp(1.1 * (events - accepted) / eff + 64, 64, batch) : batch;
            Sample(x.AsSpan(0, k * d), q.AsSpan(0, k));
            Evaluate(x.AsSpan(0, k * d), f.AsSpan(0, k));
            for (int i = 0; i < k && accepted < events; i++)
            {
                trials++;
                double e = WeightedEvents.AcceptedWeight(f[i] == 0 ? 0 : f[i] / q[i], max, Rng);
                if (e > 0)
                {
                    Array.Copy(x, i * d, outEvents, (long)accepted * d, d);
                    outWeights[accepted++] = e;
                }
            }
        }
        return new UnweightingResult { Events = outEvents, Dimensions = d, EventWeights = outWeights, MaxWeight = max, Trials = trials };
    }

    /// <summary>Weights f/q of <paramref name="n"/> fresh points (counted calls, no adaptation).</summary>
    public double[] WeightsOf(int n) => GenerateWeighted(n).Weights;

    /// <summary>
    /// <paramref name="n"/> fresh weighted events x ~ q with w = f/q (counted calls, no adaptation): what
    /// <see cref="WeightedEvents.Unweight"/> turns into unweighted events, after the samples of several shards are merged.
    /// </summary>
    public WeightedEvents GenerateWeighted(int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "need at least one point");
        int d = Dimensions;
        if ((long)n * d > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(n), n, $"{n} events of dimension {d} exceed one array; generate them in parts");
        var x = new double[(long)n * d];
        var w = new double[n];
        int batch = Math.Min(BatchSize, n);
        var q = new double[batch];
        var f = new double[batch];
        for (int start = 0; start < n; start += batch)
        {
            int k = Math.Min(batch, n - start);
            var xs = x.AsSpan(start * d, k * d);
            Sample(xs, q.AsSpan(0, k));
            Evaluate(xs, f.AsSpan(0, k));
            for (int i = 0; i < k; i++) w[start + i] = f[i] == 0 ? 0 : f[i] / q[i];
        }
        return new WeightedEvents { Events = x, Dimensions = d, Weights = w };
    }

    /// <summary>
    /// Continues on stream <paramref name="index"/> of the random state reached so far (<see cref="Rng.Jump"/> ×
    /// index): after a training that every shard repeats with the same seed, shard k integrates and generates on
    /// stream k, independent of the others; stream 0 is the unsharded run.
    /// </summary>
    public void UseStream(int index) => Rng.Jump(index);

    /// <summary>
    /// Inverse-variance weighted mean of iteration estimates: Î = Σ Iₖ/σₖ² / Σ 1/σₖ², σ = (Σ 1/σₖ²)^(−1/2),
    /// χ²/dof = Σ (Iₖ − Î)²/σₖ² / (K − 1) (NaN for one iteration). Iterations with zero error (a constant integrand)
    /// are averaged alone with error 0.
    /// </summary>
    public static (double Value, double Error, double ChiSquaredPerDof) Combine(IReadOnlyList<IterationEstimate> iterations)
    {
        ArgumentNullException.ThrowIfNull(iterations);
        if (iterations.Count == 0) throw new ArgumentException("no iterations to combine", nameof(iterations));
        var exact = iterations.Where(e => e.Error == 0).ToList();
        if (exact.Count > 0) return (exact.Average(e => e.Value), 0, iterations.Count > 1 ? 0 : double.NaN);
        double sw = 0, swx = 0;
        foreach (var e in iterations) { double w = 1 / (e.Error * e.Error); sw += w; swx += w * e.Value; }
        double value = swx / sw;
        double chi2 = 0;
        foreach (var e in iterations) chi2 += (e.Value - value) * (e.Value - value) / (e.Error * e.Error);
        return (value, 1 / Math.Sqrt(sw), iterations.Count > 1 ? chi2 / (iterations.Count - 1) : double.NaN);
    }

    /// <summary>Mean and standard error s/√n.</summary>
    protected static (double Mean, double Error) MeanAndError(ReadOnlySpan<double> v)
    {
        int n = v.Length;
        double sum = 0;
        foreach (double a in v) sum += a;
        double mean = sum / n, s2 = 0;
        foreach (double a in v) s2 += (a - mean) * (a - mean);
        return (mean, n > 1 ? Math.Sqrt(s2 / (n - 1) / n) : double.PositiveInfinity);
    }

    private static string FormatPoint(ReadOnlySpan<double> x) =>
        "(" + string.Join(", ", x.ToArray().Select(v => v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture))) + ")";
}
