using NormalizingFlows.Optim;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Integration;

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

    /// <summary>
    /// Replay buffer (MadNIS): the last this-many evaluated training events are kept with f(x) and the log q they were
    /// drawn from (<see cref="ReplayBuffer"/>), and every fresh round is followed by <see cref="BufferedRounds"/> rounds
    /// on events drawn from the buffer, which cost no integrand calls. 0 (default): no buffer; otherwise at least
    /// <see cref="SamplesPerRound"/>.
    /// </summary>
    public int BufferSize { get; init; }

    /// <summary>Buffered rounds (each <see cref="StepsPerRound"/> steps on <see cref="SamplesPerRound"/> buffered events) after each fresh one, when <see cref="BufferSize"/> &gt; 0 (default 1).</summary>
    public int BufferedRounds { get; init; } = 1;

    /// <summary>
    /// VEGAS pretraining (MadNIS): the share of the first <see cref="FlowIntegrator.Train"/>'s calls spent adapting a
    /// VEGAS grid (<see cref="Integration.Vegas"/>, default settings) that then stays the flow's first, fixed layer: the flow
    /// learns f(x(y)) J(y) on the grid's coordinates y, only what the separable grid cannot. 0 (default): off.
    /// </summary>
    public double VegasPretraining { get; init; }

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

    /// <summary>
    /// The device (a GPU: NormalizingFlows.Cuda's ComputeDevice) that samples the flow and takes the training steps;
    /// the integrand, the VEGAS grid and the replay buffer stay on the host (null, default: everything on the CPU).
    /// Every <see cref="UnitSplineKind"/> runs there, and every mode of <see cref="MultichannelFlowIntegrator"/> (the
    /// channel-weight network and the loss of its learned and mixture modes on the host). The device keeps its own copy of the weights between
    /// calls (copied back into the integrator's host flow after each Train): after editing the host flow's weights by
    /// hand, call the integrator's Dispose(), which frees the device copy; the next use compiles from the host flow.
    /// </summary>
    public IFlowAccelerator? Device { get; init; }

    /// <summary>Throws unless the settings are usable.</summary>
    public void Validate()
    {
        if (Bins < 2) throw new ArgumentOutOfRangeException(nameof(Bins), Bins, "splines need at least 2 bins");
        if (Hidden < 1) throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, "conditioners need hidden units");
        if (HiddenLayers < 1) throw new ArgumentOutOfRangeException(nameof(HiddenLayers), HiddenLayers, "conditioners need a hidden layer");
        if (Blocks is < 1) throw new ArgumentOutOfRangeException(nameof(Blocks), Blocks, "need at least one block of masks");
        if (SamplesPerRound < 2) throw new ArgumentOutOfRangeException(nameof(SamplesPerRound), SamplesPerRound, "need at least 2 samples per round");
        if (StepsPerRound < 1) throw new ArgumentOutOfRangeException(nameof(StepsPerRound), StepsPerRound, "need at least one step per round");
        if (BufferSize < 0 || (BufferSize > 0 && BufferSize < SamplesPerRound))
            throw new ArgumentOutOfRangeException(nameof(BufferSize), BufferSize, $"the replay buffer holds 0 (off) or at least {SamplesPerRound} events (one round's sample)");
        if (BufferedRounds < 0) throw new ArgumentOutOfRangeException(nameof(BufferedRounds), BufferedRounds, "the buffered rounds per fresh round cannot be negative");
        if (!(VegasPretraining >= 0 && VegasPretraining < 1)) throw new ArgumentOutOfRangeException(nameof(VegasPretraining), VegasPretraining, "the VEGAS pretraining share must lie in [0, 1)");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "the learning rate must be positive");
        if (!(InitialExponent > 0 && InitialExponent <= 1)) throw new ArgumentOutOfRangeException(nameof(InitialExponent), InitialExponent, "the initial exponent β must lie in (0, 1]");
        if (!(AnnealingFraction >= 0 && AnnealingFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(AnnealingFraction), AnnealingFraction, "the annealing fraction must lie in [0, 1]");
        if (!(ClipNorm > 0)) throw new ArgumentOutOfRangeException(nameof(ClipNorm), ClipNorm, "the clip norm must be positive");
    }
}
