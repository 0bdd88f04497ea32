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

/// <summary>The divergence between p = f/∫f and the flow's density q that i-flow training minimises.</summary>
public enum IntegrationLoss
{
    /// <summary>Kullback–Leibler D(p‖q) = ∫ p log(p/q).</summary>
    KullbackLeibler,
    /// <summary>Pearson χ² ∫ (p − q)²/q = ∫ p²/q − 1: the variance of the weights, what integration error depends on.</summary>
    Variance,
    /// <summary>The exponential divergence ∫ p (log p − log q)².</summary>
    Exponential,
}

/// <summary>The monotone [0, 1] → [0, 1] spline of the coupling layers.</summary>
public enum UnitSplineKind
{
    /// <summary>Piecewise-linear (Müller et al.): a piecewise-constant conditional density.</summary>
    PiecewiseLinear,
    /// <summary>Piecewise-quadratic (Müller et al.): a piecewise-linear continuous density.</summary>
    PiecewiseQuadratic,
    /// <summary>Rational-quadratic (Durkan et al.) with learnable boundary derivatives.</summary>
    RationalQuadratic,
}

/// <summary>Settings of <see cref="FlowIntegrator"/>: a small flow (i-flow uses few layers and small networks).</summary>
public sealed record FlowIntegratorOptions
{
    /// <summary>Spline family (default rational-quadratic).</summary>
    public UnitSplineKind Spline { get; init; } = UnitSplineKind.RationalQuadratic;

    /// <summary>Spline bins (default 16).</summary>
    public int Bins { get; init; } = 16;

    /// <summary>Hidden units of each conditioner (default 32).</summary>
    public int Hidden { get; init; } = 32;

    /// <summary>Hidden layers of each conditioner (default 2).</summary>
    public int HiddenLayers { get; init; } = 2;

    /// <summary>
    /// Repetitions of the ⌈log₂ d⌉ mask pairs (2⌈log₂ d⌉ coupling layers each); null (default): as few as give at least
    /// 6 layers (d = 2: 3, d = 3–4: 2, d ≥ 5: 1). Measured on the entangled circles at 200k calls: σ_w/⟨w⟩ 1.9 with
    /// 2 layers, 0.72 with 4, 0.65 with 6.
    /// </summary>
    public int? Blocks { get; init; }

    /// <summary>The number of mask blocks used in <paramref name="dimensions"/> dimensions (<see cref="Blocks"/> or its default).</summary>
    public int BlocksFor(int dimensions)
    {
        if (Blocks is { } b) return b;
        int layersPerBlock = 2 * (int)Math.Ceiling(Math.Log2(Math.Max(2, dimensions)));
        return Math.Max(1, (6 + layersPerBlock - 1) / layersPerBlock);
    }

    /// <summary>Training loss (default <see cref="IntegrationLoss.Variance"/>).</summary>
    public IntegrationLoss Loss { get; init; } = IntegrationLoss.Variance;

    /// <summary>Points drawn from q and evaluated per training round (default 2048).</summary>
    public int SamplesPerRound { get; init; } = 2048;

    /// <summary>Gradient steps per round on the same stored sample (buffer re-use; default 8).</summary>
    public int StepsPerRound { get; init; } = 8;

    /// <summary>Adam learning rate at the start (cosine decay to a tenth over each <see cref="FlowIntegrator.Train"/>; default 5e−3).</summary>
    public double LearningRate { get; init; } = 5e-3;

    /// <summary>
    /// Annealing: the first rounds of each <see cref="FlowIntegrator.Train"/> learn f^β instead of f, with β rising
    /// geometrically from this value to 1 over <see cref="AnnealingFraction"/> of the rounds. f^β has wider peaks, so a
    /// flow that starts uniform sees every mode before the target sharpens (against mode collapse on multi-peaked
    /// integrands in many dimensions). Default 0.1 (1: no annealing). Measured at 200k calls (nflow integrate --suite):
    /// the 16-D camel goes from collapse onto one peak to a correct estimate, σ_w/⟨w⟩ improves on camel 4/8-D
    /// (0.31 → 0.25, 0.81 → 0.59) and the circles (0.65 → 0.30), and changes little elsewhere.
    /// </summary>
    public double InitialExponent { get; init; } = 0.1;

    /// <summary>Share of the training rounds over which β rises to 1 (default 0.5; used when <see cref="InitialExponent"/> &lt; 1).</summary>
    public double AnnealingFraction { get; init; } = 0.5;

    /// <summary>Global gradient-norm clip (default 10).</summary>
    public double ClipNorm { get; init; } = 10;

    /// <summary>Throws unless the settings are usable.</summary>
    public void Validate()
    {
        if (Bins < 2) throw new ArgumentOutOfRangeException(nameof(Bins), Bins, "splines need at least 2 bins");
        if (Hidden < 1) throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, "conditioners need hidden units");
        if (HiddenLayers < 1) throw new ArgumentOutOfRangeException(nameof(HiddenLayers), HiddenLayers, "conditioners need a hidden layer");
        if (Blocks is < 1) throw new ArgumentOutOfRangeException(nameof(Blocks), Blocks, "need at least one block of masks");
        if (SamplesPerRound < 2) throw new ArgumentOutOfRangeException(nameof(SamplesPerRound), SamplesPerRound, "need at least 2 samples per round");
        if (StepsPerRound < 1) throw new ArgumentOutOfRangeException(nameof(StepsPerRound), StepsPerRound, "need at least one step per round");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "the learning rate must be positive");
        if (!(InitialExponent > 0 && InitialExponent <= 1)) throw new ArgumentOutOfRangeException(nameof(InitialExponent), InitialExponent, "the initial exponent β must lie in (0, 1]");
        if (!(AnnealingFraction >= 0 && AnnealingFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(AnnealingFraction), AnnealingFraction, "the annealing fraction must lie in [0, 1]");
        if (!(ClipNorm > 0)) throw new ArgumentOutOfRangeException(nameof(ClipNorm), ClipNorm, "the clip norm must be positive");
    }
}

/// <summary>One training round of <see cref="FlowIntegrator"/>: the estimate from its own sample, the loss before the steps, the weights' spread.</summary>
public sealed record TrainingRound(int Round, long Calls, double Estimate, double Error, double Loss, double RelativeStandardDeviation);

/// <summary>
/// i-flow (Gao, Isaacson, Krause 2020; Müller et al. 2019): importance sampling with a normalizing flow on [0, 1]^d —
/// uniform base, coupling layers with [0, 1] splines and i-flow's binary masks (<see cref="BinaryMasks"/>), so q(x)
/// = |det ∂z/∂x| with no normalisation constant to learn. Training needs no data: each round draws x ~ q_old without
/// gradients, stores f(x) and q_old(x), and takes <see cref="FlowIntegratorOptions.StepsPerRound"/> Adam steps on
/// the stored sample with importance-weighted estimators of the divergence (exact for every θ, not only at θ_old):
/// KL −Σ w log q / Σ w; χ² mean(w̃² q_old/q); exponential mean(w̃ (log p − log q)²), w̃ = (f/q_old)/mean. Float32
/// (the library's fast spline and GEMM paths); weights and sums are computed in double from float log q, whose
/// rounding (~1e−6 relative) is far below the Monte Carlo error.
/// </summary>
public sealed class FlowIntegrator : ImportanceSamplingIntegrator
{
    private readonly Adam<float> _optimizer;
    private readonly List<TrainingRound> _history = [];

    /// <summary>Creates the flow for <paramref name="integrand"/> (d ≥ 2), initialised to the identity (q = 1, plain Monte Carlo).</summary>
    public FlowIntegrator(IIntegrand integrand, FlowIntegratorOptions? options = null, long seed = 0) : base(integrand, seed)
    {
        Options = options ?? new FlowIntegratorOptions();
        Options.Validate();
        if (integrand.Dimensions < 2) throw new ArgumentException($"integrand '{integrand.Name}' has {integrand.Dimensions} dimension; coupling flows need d ≥ 2 (use VEGAS in 1-D)", nameof(integrand));
        Flow = BuildFlow(integrand.Dimensions, Options, new Rng(seed ^ 0x1F10F));
        _optimizer = new Adam<float>(Flow.Parameters().Where(p => p.Trainable), Options.LearningRate);
    }

    /// <summary>The settings.</summary>
    public FlowIntegratorOptions Options { get; }

    /// <summary>The flow: a <see cref="BoxUniform{T}"/> base on [0, 1]^d and the coupling layers.</summary>
    public Flow<float> Flow { get; }

    /// <summary>The training rounds so far.</summary>
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

    /// <summary>The unit-hypercube flow of <paramref name="options"/> in <paramref name="dimensions"/> dimensions (identity at the start).</summary>
    public static Flow<float> BuildFlow(int dimensions, FlowIntegratorOptions options, Rng rng)
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
            foreach (var mask in BinaryMasks(dimensions)) layers.Add(new SplineCoupling<float>(mask, spline, rng, conditioner: conditioner));
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
        for (int i = 0; i < x.Length; i++) x[i] = xs[i];
        for (int i = 0; i < n; i++) density[i] = Math.Exp(ls[i]);
    }

    /// <summary>log q(x) of the flow for points x (row-major, n·d) in [0, 1]^d, in batches without gradients.</summary>
    public double[] LogDensity(ReadOnlySpan<double> x)
    {
        int d = Dimensions;
        if (x.Length % d != 0) throw new ArgumentException($"x has {x.Length} values, not a multiple of {d} dimensions");
        int n = x.Length / d;
        var result = new double[n];
        using var _ = GradMode.Disable();
        for (int start = 0; start < n; start += BatchSize)
        {
            using var scope = TensorScope.Begin();
            int rows = Math.Min(BatchSize, n - start);
            var t = Tensor<float>.FromDoubles(x.Slice(start * d, rows * d), rows, d);
            var (_, ld) = Flow.Transform.Forward(new Var<float>(t));
            var s = ld.Value.ReadOnlySpan;
            for (int i = 0; i < rows; i++) result[start + i] = s[i];
        }
        return result;
    }

    /// <summary>n points of the flow (float, clamped to [0, 1]) and log q, without gradients; the tensors belong to the caller's scope.</summary>
    private (Tensor<float> X, Tensor<float> LogQ) SampleFloat(int n)
    {
        using var _ = GradMode.Disable();
        var z = Tensor<float>.Empty(n, Dimensions);
        var zs = z.Span;
        for (int i = 0; i < zs.Length; i++) zs[i] = (float)Rng.NextDouble();
        var (x, logDetInverse) = Flow.Transform.Inverse(new Var<float>(z));
        var xs = x.Value.Span;
        for (int i = 0; i < xs.Length; i++) xs[i] = Math.Clamp(xs[i], 0f, 1f);
        var l = logDetInverse.Value.Span;
        for (int i = 0; i < l.Length; i++) l[i] = -l[i];
        return (x.Value, logDetInverse.Value);
    }

    /// <summary>
    /// Trains for about <paramref name="calls"/> integrand calls: ⌊calls / SamplesPerRound⌋ rounds (at least one), each
    /// one fresh sample from the current flow and StepsPerRound gradient steps on it; the learning rate decays by a
    /// cosine to a tenth over the call.
    /// </summary>
    public override void Train(long calls)
    {
        if (calls <= 0) return;
        int n = Options.SamplesPerRound, d = Dimensions;
        int rounds = (int)Math.Max(1, calls / n);
        int totalSteps = rounds * Options.StepsPerRound;
        var xd = new double[n * d];
        var loss = new SampledDivergenceLoss<float>(
            x => Flow.Transform.Forward(x).LogAbsDet,
            () => SampleFloat(n),
            x =>
            {
                var xs = x.ReadOnlySpan;
                for (int i = 0; i < xd.Length; i++) xd[i] = xs[i];
                var f = new double[n];
                Evaluate(xd, f);
                return f;
            },
            ToDivergence(Options.Loss), Options.StepsPerRound)
        {
            Exponent = round => Exponent(round, rounds),
            RoundDone = r =>
            {
                if (double.IsNaN(r.Loss)) { _history.Add(new TrainingRound(_history.Count + 1, n, 0, 0, double.NaN, double.NaN)); return; }
                var (mean, se) = MeanAndError(r.Weights);
                _history.Add(new TrainingRound(_history.Count + 1, n, mean, se, r.Loss, WeightStatistics.Compute(r.Weights).RelativeStandardDeviation));
            },
        };
        var options = new TrainingOptions
        {
            Steps = totalSteps, LearningRate = Options.LearningRate, ClipNorm = Options.ClipNorm, ReportEverySteps = int.MaxValue,
            Schedule = new CosineDecaySchedule(Options.LearningRate, totalSteps, Options.LearningRate * 0.1),
        };
        new TrainingLoop<float>(Flow, options, _optimizer).Fit(loss, Options.StepsPerRound);
        Flow.Eval();
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
