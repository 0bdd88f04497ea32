using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// i-flow (Gao, Isaacson, Krause 2020; Müller et al. 2019): importance sampling with a normalizing flow on [0, 1]^d —
/// uniform base, coupling layers with [0, 1] splines and i-flow's binary masks (<see cref="BinaryMasks"/>), so q(x)
/// = |det ∂z/∂x| with no normalisation constant to learn. Training needs no data: each round draws x ~ q_old without
/// gradients, stores f(x) and q_old(x), and takes <see cref="FlowIntegratorOptions.StepsPerRound"/> Adam steps on
/// the stored sample with importance-weighted estimators of the divergence (exact for every θ, not only at θ_old):
/// KL −Σ w log q / Σ w; χ² mean(w̃² q_old/q); exponential mean(w̃ (log p − log q)²), w̃ = (f/q_old)/mean. Float32
/// (the library's fast spline and GEMM paths); weights and sums are computed in double from float log q, whose
/// rounding (~1e−6 relative) is far below the Monte Carlo error. With <see cref="FlowIntegratorOptions.Device"/> the
/// flow samples and trains on the device (the integrand, weights and coefficients stay on the host: one download of
/// x and log q and one upload of the coefficients per round) and its weights are copied back into <see cref="Flow"/>
/// after each <see cref="Train"/> (also one that fails midway, as the CPU's flow keeps its steps); dispose the
/// integrator to free the device memory.
/// </summary>
public sealed class FlowIntegrator : ImportanceSamplingIntegrator, IDisposable
{
    private readonly Adam<float> _optimizer;
    private readonly DeviceFlowCopy? _device;
    private readonly List<TrainingRound> _history = [];
    private ReplayBuffer? _buffer;
    private Vegas? _grid;

    /// <summary>Creates the flow for <paramref name="integrand"/> (d ≥ 2), initialised to the identity (q = 1, plain Monte Carlo).</summary>
    public FlowIntegrator(IIntegrand integrand, FlowIntegratorOptions? options = null, long seed = 0) : base(integrand, seed)
    {
        Options = options ?? new FlowIntegratorOptions();
        Options.Validate();
        if (integrand.Dimensions < 2) throw new ArgumentException($"integrand '{integrand.Name}' has {integrand.Dimensions} dimension; coupling flows need d ≥ 2 (use VEGAS in 1-D)", nameof(integrand));
        Flow = BuildFlow(integrand.Dimensions, Options, new Rng(seed ^ 0x1F10F));
        _optimizer = new Adam<float>(Flow.Parameters().Where(p => p.Trainable), Options.LearningRate);
        if (Options.Device is { } device)
        {
            _device = new DeviceFlowCopy(device, Flow, _optimizer, Flow);
            _ = _device.Flow; // a part the device cannot run is refused here, by name
        }
    }

    /// <summary>The settings.</summary>
    public FlowIntegratorOptions Options { get; }

    /// <summary>The flow: a <see cref="BoxUniform{T}"/> base on [0, 1]^d and the coupling layers.</summary>
    public Flow<float> Flow { get; }

    /// <summary>The replay buffer of the training events so far (null without <see cref="FlowIntegratorOptions.BufferSize"/> or before training).</summary>
    public ReplayBuffer? Buffer => _buffer;

    /// <summary>The VEGAS grid that is the flow's first, fixed layer (<see cref="FlowIntegratorOptions.VegasPretraining"/>), or null.</summary>
    public Vegas? Grid => _grid;

    /// <summary>The training rounds so far (fresh and buffered; a buffered round has <see cref="TrainingRound.Calls"/> = 0).</summary>
    public IReadOnlyList<TrainingRound> History => _history;

    /// <inheritdoc/>
    public override string Method => "flow";

    /// <summary>
    /// i-flow's binary masks: for k &lt; ⌈log₂ d⌉, mask k transforms the dimensions j whose bit k is set, followed by its
    /// complement. Any two dimensions differ in some bit, so each is transformed conditioned on the other at least once.
    /// </summary>
    public static IReadOnlyList<CouplingMask> BinaryMasks(int dimensions)
    {
        if (dimensions < 2) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "coupling masks need at least 2 dimensions");
        int bits = 0;
        while ((1 << bits) < dimensions) bits++;
        var masks = new List<CouplingMask>(2 * bits);
        for (int k = 0; k < bits; k++)
        {
            var m = CouplingMask.Custom(Enumerable.Range(0, dimensions).Select(j => ((j >> k) & 1) == 1).ToArray());
            masks.Add(m);
            masks.Add(m.Flipped());
        }
        return masks;
    }

    /// <summary>
    /// The unit-hypercube flow of <paramref name="options"/> in <paramref name="dimensions"/> dimensions (identity at the
    /// start), its conditioners reading <paramref name="contextFeatures"/> context features besides the coordinates.
    /// </summary>
    public static Flow<float> BuildFlow(int dimensions, FlowIntegratorOptions options, Rng rng, int contextFeatures = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(rng);
        options.Validate();
        IElementwiseSpline spline = options.Spline switch
        {
            UnitSplineKind.PiecewiseLinear => new PiecewiseLinearSpline(options.Bins),
            UnitSplineKind.PiecewiseQuadratic => new PiecewiseQuadraticSpline(options.Bins),
            _ => new RationalQuadraticSpline(options.Bins, SplineDomain.UnitInterval),
        };
        var conditioner = new ConditionerOptions { HiddenFeatures = options.Hidden, HiddenLayers = options.HiddenLayers, Activation = Activation.Relu };
        var layers = new List<Transform<float>>();
        for (int b = 0, blocks = options.BlocksFor(dimensions); b < blocks; b++)
            foreach (var mask in BinaryMasks(dimensions)) layers.Add(new SplineCoupling<float>(mask, spline, rng, contextFeatures, conditioner));
        Transform<float> transform = layers.Count == 1 ? layers[0] : new CompositeTransform<float>(layers.ToArray());
        return new Flow<float>(transform, BoxUniform<float>.UnitCube(dimensions));
    }

    /// <inheritdoc/>
    public override void Sample(Span<double> x, Span<double> density)
    {
        int d = Dimensions, n = density.Length;
        if (x.Length != n * d) throw new ArgumentException($"x has {x.Length} values for {n} points of {d} dimensions");
        using var scope = TensorScope.Begin();
        var (xt, logq) = SampleFloat(n);
        var xs = xt.ReadOnlySpan; var ls = logq.ReadOnlySpan;
        if (_grid is null)
        {
            for (int i = 0; i < x.Length; i++) x[i] = xs[i];
            for (int i = 0; i < n; i++) density[i] = Math.Exp(ls[i]);
            return;
        }
        // the flow samples the grid's coordinates y; the grid maps them to x, q(x) = q_flow(y) / J(y)
        var y = new double[n * d];
        var logJ = new double[n];
        for (int i = 0; i < y.Length; i++) y[i] = xs[i];
        _grid.Map(y, x, logJ);
        for (int i = 0; i < n; i++) density[i] = Math.Exp(ls[i] - logJ[i]);
    }

    /// <summary>log q(x) of the flow for points x (row-major, n·d) in [0, 1]^d, in batches without gradients.</summary>
    public double[] LogDensity(ReadOnlySpan<double> x)
    {
        int d = Dimensions;
        if (x.Length % d != 0) throw new ArgumentException($"x has {x.Length} values, not a multiple of {d} dimensions");
        int n = x.Length / d;
        var result = new double[n];
        double[]? logJ = null;
        if (_grid is not null)
        {
            var y = new double[x.Length];
            logJ = new double[n];
            _grid.InverseMap(x, y, logJ);
            x = y;
        }
        using var _ = GradMode.Disable();
        for (int start = 0; start < n; start += BatchSize)
        {
            using var scope = TensorScope.Begin();
            int rows = Math.Min(BatchSize, n - start);
            var t = Tensor<float>.FromDoubles(x.Slice(start * d, rows * d), rows, d);
            var (_, ld) = Flow.Transform.Forward(new Var<float>(t));
            var s = ld.Value.ReadOnlySpan;
            for (int i = 0; i < rows; i++) result[start + i] = s[i] - (logJ?[start + i] ?? 0);
        }
        return result;
    }

    /// <summary>
    /// n points of the flow (float, clamped to [0, 1]) and log q, without gradients (on the device when there is one:
    /// the uniform stream of a seed drawn from the integrator's Rng); the tensors belong to the caller's scope.
    /// </summary>
    private (Tensor<float> X, Tensor<float> LogQ) SampleFloat(int n) =>
        Options.Device is null ? SampleUnitFlow(Flow, n, Rng) : _device!.Flow.SampleUnitCube(n, (long)(Rng.NextUInt64() >> 1));


    /// <summary>Frees the flow's device memory (the host <see cref="Flow"/> holds the trained weights); a later use compiles the host flow again.</summary>
    public void Dispose() => _device?.Dispose();

    /// <summary>
    /// n points of a unit-hypercube <paramref name="flow"/> (given <paramref name="context"/>, [n, C], if conditional),
    /// clamped to [0, 1], and their log q, drawn without gradients from <paramref name="rng"/>; the tensors belong to the caller's scope.
    /// </summary>
    internal static (Tensor<float> X, Tensor<float> LogQ) SampleUnitFlow(Flow<float> flow, int n, Rng rng, Var<float>? context = null)
    {
        using var _ = GradMode.Disable();
        int d = flow.Base.Features;
        var z = Tensor<float>.Empty(n, d);
        var zs = z.Span;
        for (int i = 0; i < zs.Length; i++) zs[i] = (float)rng.NextDouble();
        var (x, logDetInverse) = flow.Transform.Inverse(new Var<float>(z), context);
        var xs = x.Value.Span;
        for (int i = 0; i < xs.Length; i++) xs[i] = Math.Clamp(xs[i], 0f, 1f);
        var l = logDetInverse.Value.Span;
        for (int i = 0; i < l.Length; i++) l[i] = -l[i];
        return (x.Value, logDetInverse.Value);
    }

    /// <summary>
    /// Trains for about <paramref name="calls"/> integrand calls: ⌊calls / SamplesPerRound⌋ fresh rounds (at least one),
    /// each one fresh sample from the current flow and StepsPerRound gradient steps on it, and with a replay buffer
    /// (<see cref="FlowIntegratorOptions.BufferSize"/>) BufferedRounds rounds on buffered events after each fresh one;
    /// the learning rate decays by a cosine to a tenth over the call.
    /// </summary>
    public override void Train(long calls)
    {
        if (calls <= 0) return;
        int n = Options.SamplesPerRound, d = Dimensions;
        if (Options.VegasPretraining > 0 && _grid is null)
        {
            long adapt = (long)(Options.VegasPretraining * calls);
            _grid = new Vegas(new CountedIntegrand(this), seed: (long)(Rng.NextUInt64() >> 1));
            _grid.Train(adapt);
            calls -= adapt;
            if (calls <= 0) return;
        }
        var grid = _grid;
        var xg = grid is null ? null : new double[n * d];
        var logJ = grid is null ? null : new double[n];
        var buffer = Options.BufferSize > 0 && Options.BufferedRounds > 0 ? _buffer ??= new ReplayBuffer(Options.BufferSize, d) : null;
        int cycle = buffer is null ? 1 : 1 + Options.BufferedRounds;
        int rounds = (int)Math.Max(1, calls / n) * cycle;
        int totalSteps = rounds * Options.StepsPerRound;
        var xd = new double[n * d];
        // f at a fresh round's points, on the grid's coordinates when there is one; stored in the buffer with log q
        double[] Target(Tensor<float> x, Tensor<float> logq)
        {
            var xs = x.ReadOnlySpan;
            for (int i = 0; i < xd.Length; i++) xd[i] = xs[i];
            var f = new double[n];
            if (grid is null) Evaluate(xd, f);
            else
            {
                // the flow learns f(x(y)) J(y) on the grid's coordinates y
                grid.Map(xd, xg, logJ);
                Evaluate(xg, f);
                for (int i = 0; i < n; i++) f[i] = f[i] == 0 ? 0 : f[i] * Math.Exp(logJ![i]);
            }
            if (buffer is not null)
            {
                var lq = logq.ReadOnlySpan;
                var lqd = new double[n];
                for (int i = 0; i < n; i++) lqd[i] = lq[i];
                buffer.Add(xd, f, lqd);
            }
            return f;
        }
        if (Options.Device is not null)
        {
            TrainOnDevice(rounds, cycle, buffer, Target);
            return;
        }
        int round = 0;
        double[]? buffered = null;
        Tensor<float>? freshLogQ = null;
        var loss = new SampledDivergenceLoss<float>(
            x => Flow.Transform.Forward(x).LogAbsDet,
            () =>
            {
                if (round++ % cycle == 0)
                {
                    buffered = null;
                    var fresh = SampleFloat(n);
                    freshLogQ = fresh.LogQ;
                    return fresh;
                }
                var b = buffer!.Draw(n, Rng);
                buffered = b.Values;
                return (Tensor<float>.FromDoubles(b.X, b.Count, d), Tensor<float>.FromDoubles(b.LogDensity, b.Count));
            },
            x => buffered ?? Target(x, freshLogQ!),
            ToDivergence(Options.Loss), Options.StepsPerRound)
        {
            Exponent = r => Exponent(r, rounds),
            RoundDone = r => AddRound(r.Round % cycle == 0 ? n : 0, r.Weights, r.Loss),
        };
        var options = new TrainingOptions
        {
            Steps = totalSteps, LearningRate = Options.LearningRate, ClipNorm = Options.ClipNorm, ReportEverySteps = int.MaxValue,
            Schedule = new CosineDecaySchedule(Options.LearningRate, totalSteps, Options.LearningRate * 0.1),
        };
        new TrainingLoop<float>(Flow, options, _optimizer).Fit(loss, Options.StepsPerRound);
        Flow.Eval();
    }

    /// <summary>A round of the history: its calls, the estimate from its weights, the loss of its first step (NaN: skipped).</summary>
    private void AddRound(long calls, double[] weights, double loss)
    {
        if (double.IsNaN(loss)) { _history.Add(new TrainingRound(_history.Count + 1, calls, 0, 0, double.NaN, double.NaN)); return; }
        var (mean, se) = MeanAndError(weights);
        _history.Add(new TrainingRound(_history.Count + 1, calls, mean, se, loss, WeightStatistics.Compute(weights).RelativeStandardDeviation));
    }

    /// <summary>
    /// <see cref="Train"/> on <see cref="FlowIntegratorOptions.Device"/>: the CPU path's rounds, schedule and
    /// coefficients (<see cref="SampledDivergenceLoss{T}.RoundCoefficients"/>), with each fresh sample drawn on the
    /// device and the steps taken there; one read of the loss after a round's first step and one after its last
    /// (a non-finite loss is a divergence). The weights and Adam's state are copied back into the host flow at the end,
    /// and also when the call fails (an integrand's exception, a divergence), as the CPU's flow keeps the steps it took.
    /// </summary>
    private void TrainOnDevice(int rounds, int cycle, ReplayBuffer? buffer, Func<Tensor<float>, Tensor<float>, double[]> target)
    {
        var schedule = new CosineDecaySchedule(Options.LearningRate, rounds * Options.StepsPerRound, Options.LearningRate * 0.1);
        var divergence = ToDivergence(Options.Loss);
        _device!.Train(flow => TrainRounds(flow, rounds, cycle, buffer, target, schedule, divergence));
    }

    private void TrainRounds(IAcceleratedFlow flow, int rounds, int cycle, ReplayBuffer? buffer, Func<Tensor<float>, Tensor<float>, double[]> target,
        CosineDecaySchedule schedule, Divergence divergence)
    {
        int n = Options.SamplesPerRound, d = Dimensions, steps = Options.StepsPerRound;
        for (int round = 0; round < rounds; round++)
        {
            using var scope = TensorScope.Begin();
            bool fresh = round % cycle == 0;
            Tensor<float> x, logq;
            double[] f;
            if (fresh)
            {
                (x, logq) = SampleFloat(n);
                f = target(x, logq);
            }
            else
            {
                var b = buffer!.Draw(n, Rng);
                (x, logq, f) = (Tensor<float>.FromDoubles(b.X, b.Count, d), Tensor<float>.FromDoubles(b.LogDensity, b.Count), b.Values);
            }
            var (weights, coefficient, aux) = SampledDivergenceLoss<float>.RoundCoefficients(divergence, f, logq.ReadOnlySpan, Exponent(round, rounds), round);
            if (coefficient is null)
            {
                AddRound(fresh ? n : 0, weights, double.NaN); // f vanished on the whole sample: the round's steps are skipped, as on the CPU
                continue;
            }
            flow.SetDivergenceRound(x, divergence, coefficient, aux!);
            for (int s = 0; s < steps; s++)
            {
                int step = round * steps + s;
                flow.DivergenceStep(schedule.LearningRate(step), Options.ClipNorm);
                if (s == 0) AddRound(fresh ? n : 0, weights, Checked(flow.TakeLossSum(), step));
            }
            if (steps > 1) Checked(flow.TakeLossSum(), round * steps + steps - 1);
        }
    }

    private static double Checked(double loss, int step) => double.IsFinite(loss) ? loss
        : throw new TrainingDivergedException(step, null, $"the training loss became {loss} by step {step} (read back from the device)",
            "Lower the learning rate or clip gradients harder (FlowIntegratorOptions.ClipNorm).");

    /// <summary>The integrand seen through <see cref="ImportanceSamplingIntegrator.Evaluate"/>, so the pretraining grid's calls are counted and checked.</summary>
    private sealed class CountedIntegrand(FlowIntegrator owner) : IIntegrand
    {
        public string Name => owner.Integrand.Name;

        public int Dimensions => owner.Dimensions;

        public double? AnalyticValue => owner.Integrand.AnalyticValue;

        public void Evaluate(ReadOnlySpan<double> x, Span<double> values) => owner.Evaluate(x, values);
    }

    private static Divergence ToDivergence(IntegrationLoss loss) => loss switch
    {
        IntegrationLoss.Variance => Divergence.Variance,
        IntegrationLoss.Exponential => Divergence.Exponential,
        _ => Divergence.KullbackLeibler,
    };

    /// <summary>β of round <paramref name="round"/> of <paramref name="rounds"/>: geometric from InitialExponent to 1 over AnnealingFraction of them.</summary>
    private double Exponent(int round, int rounds)
    {
        double b0 = Options.InitialExponent;
        int ramp = (int)Math.Round(Options.AnnealingFraction * rounds);
        if (b0 >= 1 || round >= ramp) return 1;
        return Math.Pow(b0, 1 - (double)round / ramp);
    }
}
