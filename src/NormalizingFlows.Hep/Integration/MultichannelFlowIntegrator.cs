using System.Runtime.InteropServices;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// MadNIS-style multichannel integration (Heimel et al. 2023, arXiv 2212.06172, 2311.01548) of an
/// <see cref="IMultichannelIntegrand"/>: one unit-hypercube flow q(u | k) conditioned on the channel (one-hot
/// context) instead of a flow per channel; channel weights α_k(p) = softmax_k(log α_k^prior(p) + NN_k(features of p)),
/// the network's output layer zero at the start (α = the mappings' own weights), trained jointly with the flow on
/// the summed per-channel variance Σ_k E_{q_old}[α_k² F_k² / (q_old q)] (F_k = f w_k); or, with
/// <see cref="MultichannelOptions.BalanceWeights"/>, the prior replaced by the flow's own channel densities,
/// α_k ∝ N_k q_k(p) (Veach's balance heuristic), and with <see cref="MultichannelOptions.MixtureLoss"/> the flow trained on
/// the χ² divergence of the whole mixture Σ_j (N_j/N) q_j(p) instead (the balance estimator's own variance); the estimator
/// Σ_k mean_k(α_k F_k / q_k) with variance Σ_k σ_k² / N_k, unbiased for any α that sums to 1; stratified allocation
/// N_k ∝ σ_k of each iteration's calls; channel dropping below a share of the integral. With
/// <see cref="FlowIntegratorOptions.Device"/> (every mode) the flow draws each channel's points (one-hot context) and
/// takes its steps on the device, following the CPU's training step by step: with fixed (prior or balance) channel
/// weights the variance loss's χ² steps run there from per-row coefficients computed on the host; with the
/// channel-weight network or the mixture loss each step sends the flow's log q down, computes the loss (and the
/// network's gradients) on the host, sends ∂loss/∂log q up, and clips flow and network to their joint norm. The
/// integrand, mappings, channel weights and the network stay on the host (the balance weights' densities come from the
/// device flow while it trains), and the weights are copied back into <see cref="Flow"/> after each
/// <see cref="Train"/>; dispose the integrator to free the device memory.
/// </summary>
public sealed partial class MultichannelFlowIntegrator : IDisposable
{
    private readonly ModuleList<float> _model;
    private readonly Adam<float> _optimizer;
    private readonly Adam<float>? _channelOptimizer; // the channel-weight network's, when the flow trains on the device
    private readonly Rng _rng;
    private readonly bool[] _active;
    private readonly double[] _sigma;
    private double[] _shares;
    private double[]? _lastChannelEstimates;
    private IReadOnlyList<ChannelEstimate> _channels = [];
    private readonly DeviceFlowCopy? _device;

    /// <summary>Creates the integrator: a channel-conditional flow (identity at the start) and, when learning, the channel-weight network.</summary>
    public MultichannelFlowIntegrator(IMultichannelIntegrand integrand, MultichannelOptions? options = null, long seed = 0)
    {
        Integrand = integrand ?? throw new ArgumentNullException(nameof(integrand));
        Options = options ?? new MultichannelOptions();
        Options.Validate();
        if (integrand.Dimensions < 2) throw new ArgumentException($"integrand '{integrand.Name}' has {integrand.Dimensions} dimension per channel; coupling flows need d ≥ 2", nameof(integrand));
        if (integrand.Channels < 1) throw new ArgumentException($"integrand '{integrand.Name}' has no channels", nameof(integrand));
        if (Options.LearnChannelWeights && integrand.Features < 1) throw new ArgumentException($"integrand '{integrand.Name}' gives no features for the channel-weight network", nameof(integrand));
        int k = integrand.Channels;
        var rng = new Rng(seed ^ 0x1F10F);
        Flow = FlowIntegrator.BuildFlow(integrand.Dimensions, Options.Flow, rng, k);
        _model = new ModuleList<float>();
        _model.Add(Flow);
        if (Options.LearnChannelWeights)
            ChannelWeights = _model.Add(new Mlp<float>(integrand.Features, [Options.ChannelWeightHidden, Options.ChannelWeightHidden], k, rng, Activation.Relu, zeroInitLast: true));
        // on the device, the flow's Adam state lives there and the channel-weight network's stays on the host: two
        // optimizers, which take the one optimizer's steps (Adam is elementwise; the clip is joint: HostLossRounds)
        bool split = Options.Flow.Device is not null && ChannelWeights is not null;
        _optimizer = new Adam<float>((split ? Flow.Parameters() : _model.Parameters()).Where(p => p.Trainable), Options.Flow.LearningRate);
        if (split) _channelOptimizer = new Adam<float>(ChannelWeights!.Parameters().Where(p => p.Trainable), Options.Flow.LearningRate);
        _rng = new Rng(seed);
        _active = Enumerable.Repeat(true, k).ToArray();
        _sigma = Enumerable.Repeat(1.0, k).ToArray();
        _shares = Enumerable.Repeat(1.0 / k, k).ToArray();
        if (Options.Flow.Device is { } accelerator)
        {
            _device = new DeviceFlowCopy(accelerator, Flow, _optimizer, _model);
            _ = _device.Flow; // a part the device cannot run is refused here, by name
        }
    }

    /// <summary>Frees the flow's device memory (the host <see cref="Flow"/> holds the trained weights); a later use compiles the host flow again.</summary>
    public void Dispose() => _device?.Dispose();

    /// <summary>The loss (variance or mixture) of each training round's first step (NaN for a skipped round), CPU or device.</summary>
    internal List<double> RoundLosses { get; } = [];

    /// <summary>
    /// The loss of every training step that was taken, on the CPU and on the device with a loss computed on the host
    /// (a channel-weight network or the mixture loss: <see cref="HostLossRounds"/>); the device's fixed-weight steps record none.
    /// </summary>
    internal List<double> StepLosses { get; } = [];

    /// <summary>Replaces the per-channel draws (channel, count → points and log q) in tests, so two runs train on one sample.</summary>
    internal Func<int, int, (Tensor<float> X, Tensor<float> LogQ)>? DrawOverride { get; set; }

    /// <summary>The integrand.</summary>
    public IMultichannelIntegrand Integrand { get; }

    /// <summary>The settings.</summary>
    public MultichannelOptions Options { get; }

    /// <summary>The flow q(u | k) on [0, 1]^d with the channel as one-hot context.</summary>
    public Flow<float> Flow { get; }

    /// <summary>The channel-weight network (features → K logits added to log α^prior), or null when the prior weights are kept.</summary>
    public Mlp<float>? ChannelWeights { get; }

    /// <summary>Integrand calls so far (training and integration).</summary>
    public long FunctionCalls { get; private set; }

    /// <summary>Per channel, the last <see cref="Integrate"/>: estimate, weight variance, calls, whether active.</summary>
    public IReadOnlyList<ChannelEstimate> Channels => _channels;

    /// <summary>The share of the calls each channel gets next (0 for dropped channels).</summary>
    public IReadOnlyList<double> Shares => _shares;

    /// <summary>
    /// Trains flow and channel weights jointly for about <paramref name="calls"/> integrand calls: rounds of
    /// SamplesPerRound fresh events (allocated to the channels as in integration) and StepsPerRound Adam steps on
    /// each; then drops the channels whose share of the last round's estimate is below <see cref="MultichannelOptions.DropFloor"/>.
    /// </summary>
    public void Train(long calls)
    {
        if (calls <= 0) return;
        var o = Options.Flow;
        int rounds = (int)Math.Max(1, calls / o.SamplesPerRound), steps = rounds * o.StepsPerRound;
        _lastChannelEstimates = null;
        if (o.Device is not null) TrainOnDevice(rounds);
        else Fit(steps);
        if (Options.DropFloor > 0 && _lastChannelEstimates is { } last)
        {
            double total = last.Sum();
            for (int k = 0; k < last.Length; k++)
                if (_active[k] && total > 0 && last[k] / total < Options.DropFloor && _active.Count(a => a) > 1) _active[k] = false;
            _shares = Allocation();
        }
    }

    /// <summary>The CPU's training: <paramref name="steps"/> steps of the loss in the library's training loop.</summary>
    private void Fit(int steps)
    {
        var o = Options.Flow;
        TrainingLoss<float> loss = Options.MixtureLoss ? new MixtureLoss(this) : new VarianceLoss(this);
        var training = new TrainingOptions
        {
            Steps = steps, LearningRate = o.LearningRate, ClipNorm = o.ClipNorm, ReportEverySteps = int.MaxValue,
            Schedule = new CosineDecaySchedule(o.LearningRate, steps, o.LearningRate * 0.1),
        };
        new TrainingLoop<float>(_model, training, _optimizer).Fit(loss, o.StepsPerRound);
        _model.Eval();
    }

    /// <summary>
    /// <see cref="Train"/> on the device with the fixed channel weights: the CPU's rounds, schedule and clip; each
    /// round drawn on the device, its χ²-form coefficients computed on the host (<see cref="FixedWeightRound"/>) and
    /// uploaded once, the steps taken there; the weights and Adam's state copied back into the host flow at the end,
    /// and also when the call fails (an integrand's exception, a divergence), as the CPU's flow keeps the steps it took.
    /// </summary>
    private void TrainOnDevice(int rounds)
    {
        var o = Options.Flow;
        var schedule = new CosineDecaySchedule(o.LearningRate, rounds * o.StepsPerRound, o.LearningRate * 0.1);
        // with the loss on the host, each step's loss and norm are checked before the step (as the CPU's loop does)
        if (ChannelWeights is not null || Options.MixtureLoss) _device!.Train(flow => HostLossRounds(flow, rounds, schedule), lossBeforeEachStep: true);
        else _device!.Train(flow => TrainRounds(flow, rounds, schedule));
    }

    private void TrainRounds(IAcceleratedFlow flow, int rounds, CosineDecaySchedule schedule)
    {
        var o = Options.Flow;
        int steps = o.StepsPerRound;
        for (int r = 0; r < rounds; r++)
        {
            using var scope = TensorScope.Begin();
            var round = FixedWeightRound(Draw(o.SamplesPerRound));
            if (round is not { } q)
            {
                RoundLosses.Add(double.NaN); // nothing in the whole round: its steps are skipped, as on the CPU
                continue;
            }
            flow.SetDivergenceRound(q.X, Divergence.Variance, q.Coefficient, q.LogQOld, q.Context);
            for (int s = 0; s < steps; s++)
            {
                int step = r * steps + s;
                flow.DivergenceStep(schedule.LearningRate(step), o.ClipNorm);
                if (s == 0) RoundLosses.Add(Checked(flow.TakeLossSum(), step));
            }
            if (steps > 1) Checked(flow.TakeLossSum(), r * steps + steps - 1);
        }
    }

    private static double Checked(double loss, int step) => double.IsFinite(loss) ? loss
        : throw new TrainingDivergedException(step, null, $"the training loss became {loss} by step {step} (read back from the device)",
            "Lower the learning rate or clip gradients harder (FlowIntegratorOptions.ClipNorm).");

    /// <summary>
    /// A round's inputs to the device's χ² step for the fixed channel weights α (the prior over the active channels, or
    /// the balance weights of the flow that drew the round):
    /// points, one-hot context, c_i = N α_k(p_i)² (F_i/(q_old,i Î))² / N_k and a_i = log q_old,i, so that
    /// (1/N) Σ_i c_i exp(a_i − log q_θ(u_i | k)) is <see cref="VarianceLoss"/>'s loss. Null when the round's estimate
    /// Î is not positive (the CPU skips its steps). Reallocates the calls, as the CPU's round does.
    /// </summary>
    private (Tensor<float> X, Tensor<float> Context, Tensor<float> Coefficient, Tensor<float> LogQOld)? FixedWeightRound(Round round)
    {
        int k = Integrand.Channels, d = Integrand.Dimensions, n = round.Values.Length;
        var alpha = ChannelWeightsAt(PriorsOf(round), round.Features);
        double total = Reallocate(round, round.Weights(alpha));
        if (!(total > 0)) return null;
        var x = Tensor<float>.FromDoubles(round.U, n, d);
        var context = Tensor<float>.Zeros(n, k);
        var coefficient = Tensor<float>.Empty(n);
        var logQOld = Tensor<float>.Empty(n);
        var cs = context.Span; var co = coefficient.Span; var lq = logQOld.Span;
        for (int i = 0; i < n; i++)
        {
            int c = round.Channel[i];
            cs[i * k + c] = 1;
            double a = alpha[i * k + c], ratio = round.Values[i] / Math.Exp(round.LogQ[i]) / total;
            co[i] = (float)((double)n * a * a * ratio * ratio / round.Counts[c]);
            lq[i] = (float)round.LogQ[i];
        }
        return (x, context, coefficient, logQOld);
    }

    /// <summary>
    /// Estimates the integral with <paramref name="calls"/> calls in <paramref name="iterations"/> iterations, each
    /// allocated to the channels by the previous one's σ_k (stratified) and combined by inverse variance. The weights
    /// of the result are the events' weights under the mixture Σ_k (N_k/N) q(u | k) (their mean is the integral).
    /// </summary>
    public IntegrationResult Integrate(long calls, int iterations = 1, double quantile = 0.999)
    {
        if (iterations < 1) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "need at least one iteration");
        int k = Integrand.Channels;
        if (calls < 2L * k * iterations) throw new ArgumentOutOfRangeException(nameof(calls), calls, $"need at least 2 calls per channel and iteration ({k} channels, {iterations} iterations)");
        if (calls > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(calls), calls, "at most 2^31 − 1 calls per integration");
        long before = FunctionCalls;
        var weights = new List<double>((int)calls);
        var estimates = new List<IterationEstimate>(iterations);
        double[] sum = new double[k], sumSq = new double[k];
        long[] count = new long[k];
        for (int it = 0; it < iterations; it++)
        {
            int n = (int)(calls / iterations + (it < calls % iterations ? 1 : 0));
            var round = Draw(n);
            var w = round.Weights(ChannelWeightsAt(PriorsOf(round), round.Features));
            var (means, variances) = ChannelMoments(w, round.Channel, round.Counts);
            double value = 0, variance = 0;
            for (int c = 0; c < k; c++)
            {
                if (round.Counts[c] == 0) continue;
                value += means[c];
                variance += variances[c] / round.Counts[c];
                _sigma[c] = Spread(means[c], variances[c]);
            }
            for (int i = 0; i < w.Length; i++)
            {
                int c = round.Channel[i];
                sum[c] += w[i]; sumSq[c] += w[i] * w[i]; count[c]++;
                weights.Add(w[i] * n / round.Counts[c]);
            }
            estimates.Add(new IterationEstimate(value, Math.Sqrt(variance), n));
            _shares = Allocation();
        }
        var channels = new ChannelEstimate[k];
        for (int c = 0; c < k; c++)
        {
            double mean = count[c] > 0 ? sum[c] / count[c] : 0;
            double var = count[c] > 1 ? Math.Max(0, (sumSq[c] - count[c] * mean * mean) / (count[c] - 1)) : 0;
            channels[c] = new ChannelEstimate(c, mean, count[c] > 0 ? Math.Sqrt(var / count[c]) : 0, var, count[c], _active[c]);
        }
        _channels = channels;
        var (est, err, chi2) = ImportanceSamplingIntegrator.Combine(estimates);
        return new IntegrationResult
        {
            Method = "multichannel", Integrand = Integrand.Name, Estimate = est, Error = err, Iterations = estimates, ChiSquaredPerDof = chi2,
            Calls = FunctionCalls - before, TotalCalls = FunctionCalls, Weights = WeightStatistics.Compute(weights.ToArray(), quantile),
        };
    }

    /// <summary>The channel weights α_k(p) (row-major n·K) for priors and features of n points, with dropped channels removed and the rest renormalised.</summary>
    public double[] ChannelWeightsAt(ReadOnlySpan<double> priors, ReadOnlySpan<double> features)
    {
        int k = Integrand.Channels, f = Integrand.Features;
        if (priors.Length % k != 0) throw new ArgumentException($"priors has {priors.Length} values, not a multiple of {k} channels", nameof(priors));
        int n = priors.Length / k;
        if (ChannelWeights is not null && features.Length != n * f) throw new ArgumentException($"features has {features.Length} values for {n} points of {f} features", nameof(features));
        var alpha = new double[n * k];
        float[]? logits = null;
        if (ChannelWeights is not null)
        {
            using var scope = TensorScope.Begin();
            using var _ = GradMode.Disable();
            logits = ChannelWeights.Forward(new Var<float>(Tensor<float>.FromDoubles(features, n, f))).Value.ReadOnlySpan.ToArray();
        }
        for (int i = 0; i < n; i++)
        {
            // softmax of log prior + logit over the active channels, shifted by the largest logit for stability
            double top = double.NegativeInfinity;
            if (logits is not null) for (int c = 0; c < k; c++) if (_active[c] && priors[i * k + c] > 0) top = Math.Max(top, logits[i * k + c]);
            double norm = 0;
            for (int c = 0; c < k; c++)
            {
                double p = priors[i * k + c];
                double a = _active[c] && p > 0 ? p * (logits is null ? 1 : Math.Exp(logits[i * k + c] - top)) : 0;
                alpha[i * k + c] = a;
                norm += a;
            }
            for (int c = 0; c < k; c++) alpha[i * k + c] = norm > 0 ? alpha[i * k + c] / norm : 0;
        }
        return alpha;
    }

    /// <summary>
    /// The balance channel weights α_k(p) = N_k q_k(p) / Σ_j N_j q_j(p) (row-major n·K) at n points
    /// <paramref name="u"/> of channel <paramref name="channel"/>, with q_j(p) = q(u_j | j)/w_j the flow's density of
    /// channel j at p (0 where channel j cannot reach p) and <paramref name="calls"/> the N_j.
    /// </summary>
    internal double[] BalanceWeightsAt(int channel, ReadOnlySpan<double> u, ReadOnlySpan<int> calls)
    {
        int k = Integrand.Channels, n = u.Length / Integrand.Dimensions;
        var (logq, jacobians) = ChannelLogDensities(channel, u, calls);
        // in log space, log N_j + log q_j − log w_j, normalised by the largest: no channel's density under- or
        // overflows to a partition that no longer sums to 1
        var alpha = new double[n * k];
        for (int i = 0; i < n; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++)
            {
                int ij = i * k + j;
                alpha[ij] = calls[j] != 0 && jacobians[ij] > 0 ? Math.Log(calls[j]) + logq[ij] - Math.Log(jacobians[ij]) : double.NegativeInfinity;
                if (alpha[ij] > max) max = alpha[ij];
            }
            double norm = 0;
            for (int j = 0; j < k; j++) norm += alpha[i * k + j] = double.IsNegativeInfinity(max) ? 0 : Math.Exp(alpha[i * k + j] - max);
            for (int j = 0; j < k; j++) alpha[i * k + j] = norm > 0 ? alpha[i * k + j] / norm : 0;
        }
        return alpha;
    }

    /// <summary>
    /// For n points <paramref name="u"/> of channel <paramref name="channel"/>: the flow's log q(u_j | j) at the
    /// points' numbers u_j in every channel j (row-major n·K; NaN where channel j cannot reach the point or has no
    /// <paramref name="calls"/>) and channel j's weight w_j there, evaluated channel by channel without gradients (by
    /// the device flow when there is one: while it trains, the host flow's weights are a call behind).
    /// </summary>
    private (double[] LogQ, double[] Jacobians) ChannelLogDensities(int channel, ReadOnlySpan<double> u, ReadOnlySpan<int> calls)
    {
        int k = Integrand.Channels, d = Integrand.Dimensions, n = u.Length / d;
        if (calls.Length != k) throw new ArgumentException($"{calls.Length} call counts for {k} channels", nameof(calls));
        var coordinates = new double[n * k * d];
        var jacobians = new double[n * k];
        Integrand.ChannelCoordinates(channel, u, coordinates, jacobians);
        var result = new double[n * k];
        Array.Fill(result, double.NaN);
        var rows = new List<int>(n);
        using var _ = GradMode.Disable();
        for (int j = 0; j < k; j++)
        {
            if (calls[j] == 0) continue;
            rows.Clear();
            for (int i = 0; i < n; i++) if (jacobians[i * k + j] > 0) rows.Add(i * k + j);
            for (int start = 0; start < rows.Count; start += BalanceBatch)
            {
                int m = Math.Min(BalanceBatch, rows.Count - start);
                using var scope = TensorScope.Begin();
                var (x, context) = ChannelRows(coordinates, CollectionsMarshal.AsSpan(rows).Slice(start, m));
                var logq = _device is not null ? _device.Flow.ForwardLogProb(x, context) : HostLogDensity(Flow, x, context);
                for (int r = 0; r < m; r++) result[rows[start + r]] = logq[r];
            }
        }
        return (result, jacobians);
    }

    /// <summary>
    /// The flow's inputs for <paramref name="rows"/> (each i·K + j: point i in channel j) of row-major n·K·d channel
    /// <paramref name="coordinates"/>: the numbers u_j and the one-hot context of channel j. An inverse map's rounding
    /// (at most <see cref="CoordinateSlack"/> outside [0, 1]) is put back on the boundary; anything further out is a
    /// defect of the integrand's inverse map and throws, naming the channel and the value.
    /// </summary>
    private (Tensor<float> X, Tensor<float> Context) ChannelRows(ReadOnlySpan<double> coordinates, ReadOnlySpan<int> rows)
    {
        int k = Integrand.Channels, d = Integrand.Dimensions, m = rows.Length;
        var x = Tensor<float>.Empty(m, d);
        var context = Tensor<float>.Zeros(m, k);
        var xs = x.Span; var cs = context.Span;
        for (int r = 0; r < m; r++)
        {
            int row = rows[r];
            for (int t = 0; t < d; t++)
            {
                double u = coordinates[row * d + t];
                if (!(u >= -CoordinateSlack && u <= 1 + CoordinateSlack))
                    throw new InvalidOperationException($"{Integrand.GetType().Name}.ChannelCoordinates gave u[{t}] = {u:R} for channel {row % k}: outside [0, 1] (an inverse map that is off)");
                xs[r * d + t] = (float)Math.Clamp(u, 0.0, 1.0);
            }
            cs[r * k + row % k] = 1;
        }
        return (x, context);
    }

    private const int BalanceBatch = 8192;

    /// <summary>How far outside [0, 1] an inverse map's rounding may put a channel coordinate (1e-9).</summary>
    internal const double CoordinateSlack = 1e-9;

    /// <summary>
    /// The prior channel weights of a round's events: the integrand's, or with <see cref="MultichannelOptions.BalanceWeights"/>
    /// <see cref="BalanceWeightsAt"/> for every event (its channels' blocks in turn) with the round's calls.
    /// </summary>
    private double[] PriorsOf(Round round)
    {
        if (!Options.BalanceWeights) return round.Priors;
        int k = Integrand.Channels, d = Integrand.Dimensions;
        var alpha = new double[round.Values.Length * k];
        int offset = 0;
        for (int c = 0; c < k; c++)
        {
            int m = round.Counts[c];
            if (m == 0) continue;
            BalanceWeightsAt(c, round.U.AsSpan(offset * d, m * d), round.Counts).CopyTo(alpha, offset * k);
            offset += m;
        }
        return alpha;
    }

    /// <summary>
    /// After a training round with channel weights <paramref name="w"/> (α_k F / q_old per event): each channel's σ_k
    /// and estimate, the next shares, and the round's estimate Σ_k I_k.
    /// </summary>
    private double Reallocate(Round round, double[] w)
    {
        var (means, variances) = ChannelMoments(w, round.Channel, round.Counts);
        var perChannel = new double[Integrand.Channels];
        for (int c = 0; c < perChannel.Length; c++)
            if (round.Counts[c] > 0)
            {
                perChannel[c] = means[c];
                _sigma[c] = Spread(means[c], variances[c]);
            }
        _shares = Allocation();
        _lastChannelEstimates = perChannel;
        return perChannel.Sum();
    }

    /// <summary>What a channel's calls are allocated by: σ_k, or with <see cref="MultichannelOptions.SecondMomentAllocation"/> √(σ_k² + I_k²).</summary>
    private double Spread(double mean, double variance) => Options.SecondMomentAllocation ? Math.Sqrt(variance + mean * mean) : Math.Sqrt(variance);

    /// <summary>Shares of the calls: N_k ∝ σ_k (or equal) over the active channels, each at least MinimumShare of an equal share.</summary>
    private double[] Allocation()
    {
        int k = _active.Length, active = _active.Count(a => a);
        var shares = new double[k];
        double sigmaSum = 0;
        for (int c = 0; c < k; c++) if (_active[c]) sigmaSum += _sigma[c];
        double m = Options.MinimumShare;
        for (int c = 0; c < k; c++)
        {
            if (!_active[c]) continue;
            double s = Options.Stratified && sigmaSum > 0 ? _sigma[c] / sigmaSum : 1.0 / active;
            shares[c] = (1 - m) * s + m / active;
        }
        return shares;
    }

    /// <summary>n events allocated by <see cref="Shares"/> (at least 2 per active channel when n allows), drawn from q(u | k) and evaluated.</summary>
    private Round Draw(int n)
    {
        int k = Integrand.Channels, d = Integrand.Dimensions, f = Integrand.Features;
        var counts = new int[k];
        int given = 0;
        for (int c = 0; c < k; c++) { counts[c] = (int)(_shares[c] * n); given += counts[c]; }
        for (int c = 0; given < n; c = (c + 1) % k) if (_active[c]) { counts[c]++; given++; }
        for (int c = 0; c < k; c++)
            while (_active[c] && counts[c] < 2 && counts.Max() > 2) { counts[Array.IndexOf(counts, counts.Max())]--; counts[c]++; }
        var round = new Round(n, d, k, f, counts);
        int offset = 0;
        for (int c = 0; c < k; c++)
        {
            int m = counts[c];
            if (m == 0) continue;
            using var scope = TensorScope.Begin();
            var context = Tensor<float>.Zeros(m, k);
            var cs = context.Span;
            for (int i = 0; i < m; i++) cs[i * k + c] = 1;
            var (x, logq) = DrawOverride is { } draw ? draw(c, m)
                : Options.Flow.Device is null ? FlowIntegrator.SampleUnitFlow(Flow, m, _rng, new Var<float>(context))
                : _device!.Flow.SampleUnitCube(m, (long)(_rng.NextUInt64() >> 1), 0, context);
            var xs = x.ReadOnlySpan; var ls = logq.ReadOnlySpan;
            for (int i = 0; i < m * d; i++) round.U[offset * d + i] = xs[i];
            for (int i = 0; i < m; i++) { round.LogQ[offset + i] = ls[i]; round.Channel[offset + i] = c; }
            Integrand.Evaluate(c, round.U.AsSpan(offset * d, m * d), round.Values.AsSpan(offset, m), round.Priors.AsSpan(offset * k, m * k), round.Features.AsSpan(offset * f, m * f));
            FunctionCalls += m;
            for (int i = offset; i < offset + m; i++)
                if (!(round.Values[i] >= 0) || !double.IsFinite(round.Values[i]))
                    throw new InvalidOperationException($"integrand '{Integrand.Name}' returned {round.Values[i]} in channel {c}: it must be finite and ≥ 0");
            offset += m;
        }
        return round;
    }

    /// <summary>
    /// Per channel (with <paramref name="count"/> events each, as the round drew them), the mean and variance of the weights of its events, in two passes
    /// over the rows (the means, then the squared deviations); a channel without events gets NaN and 0.
    /// </summary>
    private static (double[] Means, double[] Variances) ChannelMoments(double[] w, int[] channelOf, int[] count)
    {
        int channels = count.Length;
        var mean = new double[channels];
        var variance = new double[channels];
        for (int i = 0; i < w.Length; i++) mean[channelOf[i]] += w[i];
        for (int c = 0; c < channels; c++) mean[c] /= count[c];
        for (int i = 0; i < w.Length; i++)
        {
            double d = w[i] - mean[channelOf[i]];
            variance[channelOf[i]] += d * d;
        }
        for (int c = 0; c < channels; c++) variance[c] = count[c] > 1 ? variance[c] / (count[c] - 1) : 0;
        return (mean, variance);
    }

    /// <summary>One sample of all channels: points, channels, log q_old, f w_k, priors, features.</summary>
    private sealed class Round(int n, int d, int k, int f, int[] counts)
    {
        public int[] Counts { get; } = counts;
        public int[] Channel { get; } = new int[n];
        public double[] U { get; } = new double[n * d];
        public double[] LogQ { get; } = new double[n];
        public double[] Values { get; } = new double[n];
        public double[] Priors { get; } = new double[n * k];
        public double[] Features { get; } = new double[n * f];

        /// <summary>α_k F / q_old of every event for the channel weights <paramref name="alpha"/> (row-major n·K).</summary>
        public double[] Weights(double[] alpha)
        {
            var w = new double[Values.Length];
            for (int i = 0; i < w.Length; i++)
                w[i] = Values[i] == 0 ? 0 : alpha[i * k + Channel[i]] * Values[i] / Math.Exp(LogQ[i]);
            return w;
        }
    }

    /// <summary>
    /// The joint loss: Σ_k (1/N_k) Σ_{i ∈ k} α_k(p_i)² (F_i/(q_old,i Î))² q_old,i/q_θ(u_i | k), the summed per-channel
    /// variance (relative to Î²), exact for every θ on the stored sample; gradients reach the flow and the channel weights.
    /// </summary>
    private sealed class VarianceLoss(MultichannelFlowIntegrator owner) : TrainingLoss<float>
    {
        private Tensor<float>? _x, _context, _features, _logPrior, _coefficient, _logQOld;
        private int[]? _channel;
        private bool _skip;

        public override Var<float>? Compute(TrainingBatch<float> batch)
        {
            var o = owner.Options.Flow;
            if (batch.Step % o.StepsPerRound == 0) Prepare(owner.Draw(o.SamplesPerRound));
            if (_skip)
            {
                if (batch.Step % o.StepsPerRound == 0) owner.RoundLosses.Add(double.NaN);
                return null;
            }
            var loss = Loss(owner.Flow.Transform.Forward(new Var<float>(_x!), new Var<float>(_context!)).LogAbsDet);
            double value = loss.Value.ReadOnlySpan[0];
            if (batch.Step % o.StepsPerRound == 0) owner.RoundLosses.Add(value);
            owner.StepLosses.Add(value);
            return loss;
        }

        /// <summary>Whether the round's steps are skipped (its estimate is not positive).</summary>
        public bool Skip => _skip;

        /// <summary>The round's points [N, D] and one-hot channels [N, K] (after <see cref="Prepare"/>).</summary>
        public (Tensor<float> X, Tensor<float> Context) Points => (_x!, _context!);

        /// <summary>The loss for the flow's log q(u_i | k_i) <paramref name="logq"/> [N] of the round's points, with the channel-weight network's gradients.</summary>
        public Var<float> Loss(Var<float> logq)
        {
            int n = _channel!.Length;
            // log α_k = z_k − log Σ_j exp z_j with z = log α^prior (+ the network's logits when they are learnt)
            var z = new Var<float>(_logPrior!);
            if (owner.ChannelWeights is { } net) z = Ops.Add(z, net.Forward(new Var<float>(_features!)));
            var logAlpha = Ops.Sub(Ops.Reshape(Ops.GatherColumns(z, _channel, 1), n), Ops.LogSumExpRows(z));
            var exponent = Ops.Sub(Ops.Add(Ops.ScaleShift(logAlpha, 2), new Var<float>(_logQOld!)), logq);
            return Ops.Sum(Ops.Mul(new Var<float>(_coefficient!), Ops.Exp(exponent)));
        }

        /// <summary>Stores the loss's inputs for <paramref name="round"/> and reallocates the calls by it.</summary>
        public void Prepare(Round round)
        {
            foreach (var t in new[] { _x, _context, _features, _logPrior, _coefficient, _logQOld }) t?.Dispose();
            int k = owner.Integrand.Channels, d = owner.Integrand.Dimensions, f = owner.Integrand.Features, n = round.Values.Length;
            var priors = owner.PriorsOf(round);
            double total = owner.Reallocate(round, round.Weights(owner.ChannelWeightsAt(priors, round.Features)));
            _skip = !(total > 0);
            if (_skip) return;
            _channel = round.Channel;
            _x = Tensor<float>.FromDoubles(round.U, n, d).Untrack();
            _context = Tensor<float>.Zeros(n, k).Untrack();
            _logPrior = Tensor<float>.Empty(n, k).Untrack();
            _coefficient = Tensor<float>.Empty(n).Untrack();
            _logQOld = Tensor<float>.Empty(n).Untrack();
            _features = f > 0 ? Tensor<float>.FromDoubles(round.Features, n, f).Untrack() : null;
            var cs = _context.Span; var lp = _logPrior.Span; var co = _coefficient.Span; var lq = _logQOld.Span;
            for (int i = 0; i < n; i++)
            {
                int c = round.Channel[i];
                cs[i * k + c] = 1;
                // log 0 of an impossible (or dropped) channel as a large negative number: its softmax weight underflows to 0
                for (int j = 0; j < k; j++)
                {
                    double p = priors[i * k + j];
                    lp[i * k + j] = owner._active[j] && p > 0 ? (float)Math.Log(p) : -80f;
                }
                double r = round.Values[i] / Math.Exp(round.LogQ[i]) / total;
                co[i] = (float)(r * r / round.Counts[c]);
                lq[i] = (float)round.LogQ[i];
            }
        }
    }
}
