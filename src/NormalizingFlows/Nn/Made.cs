using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>
/// Masked autoencoder for distribution estimation (Germain et al. 2015): a network whose output for feature i depends
/// only on the inputs that come before i in the autoregressive order.
/// <para>
/// Degrees: input j has degree Order[j] + 1 ∈ [1, D]. Hidden degrees lie in [1, D − 1], assigned cyclically
/// (k mod max(1, D − 1) + min(1, D − 1), as nflows does) or at random (seeded). With more than 32 hidden units the
/// units are then numbered in increasing degree (the same network, relabelled after initialisation), which makes
/// every mask a staircase whose zero blocks the masked layers skip. Masks: input→hidden and hidden→hidden
/// connect when the receiving degree is ≥ the sending one, hidden→output when the output degree is strictly greater.
/// </para>
/// <para>
/// Output layout is feature-major: column i·m + p is parameter p of feature i (m = <see cref="OutputMultiplier"/>),
/// so reshaping [N, D·m] to [N·D, m] gives one row of parameters per feature. Optional context features feed every
/// unit of the first hidden layer and every output unmasked (the direct context→output path lets the first feature in
/// the order, whose outputs see no hidden unit, depend on the context too; nflows' MADE lacks it). The residual variant (nflows' MADE with residual blocks) keeps the
/// hidden degrees fixed through blocks act → masked linear → act → (dropout) → masked linear (near-zero init) with a
/// skip connection. The order and hidden degrees are saved as buffers ("order", "hidden_degrees"), the masks as each
/// layer's "mask" buffer.
/// </para>
/// </summary>
public sealed class Made<T> : Module<T>, ILayer<T>, IConditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MaskedLinear<T>[] _layers;
    private readonly MaskedLinear<T>[]? _blockLayers;
    private readonly Dropout<T>? _dropout;
    private readonly Tensor<T> _order;
    private readonly Tensor<T> _hiddenDegrees;

    /// <summary>
    /// Creates a MADE for <paramref name="features"/> inputs with <paramref name="hiddenLayers"/> hidden layers (or,
    /// with <paramref name="residualBlocks"/>, that many residual blocks) of <paramref name="hiddenFeatures"/> units.
    /// <paramref name="customOrder"/> (a permutation of 0 … D−1, customOrder[j] = position of feature j) overrides
    /// <paramref name="order"/>.
    /// </summary>
    public Made(int features, int hiddenFeatures, Rng rng, int hiddenLayers = 2, int outputMultiplier = 1, int contextFeatures = 0,
        MadeOrder order = MadeOrder.Natural, int[]? customOrder = null, bool randomHiddenDegrees = false,
        Activation activation = Activation.Relu, bool residualBlocks = false, double dropout = 0.0, bool zeroInitLast = false,
        LinearInit hiddenInit = LinearInit.Default, double outputWeightScale = 1.0)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), features, "MADE needs at least one feature");
        if (hiddenFeatures <= 0) throw new ArgumentOutOfRangeException(nameof(hiddenFeatures), hiddenFeatures, "MADE needs hidden units");
        if (hiddenLayers < 1) throw new ArgumentOutOfRangeException(nameof(hiddenLayers), hiddenLayers, "MADE needs at least one hidden layer (or block)");
        if (outputMultiplier < 1) throw new ArgumentOutOfRangeException(nameof(outputMultiplier), outputMultiplier, "must be ≥ 1");
        if (contextFeatures < 0) throw new ArgumentOutOfRangeException(nameof(contextFeatures), contextFeatures, "must be ≥ 0");
        if (residualBlocks && randomHiddenDegrees) throw new ArgumentException("the residual MADE needs deterministic hidden degrees (residual connections need equal degrees)");
        Features = features;
        HiddenFeatures = hiddenFeatures;
        OutputMultiplier = outputMultiplier;
        ContextFeatures = contextFeatures;
        Activation = activation;
        IsResidual = residualBlocks;
        int d = features, h = hiddenFeatures;

        // ---- order → input degrees
        int[] ord = ResolveOrder(d, order, customOrder, rng);
        var inDeg = ord.Select(p => p + 1).ToArray();

        // ---- hidden degrees, one row per hidden layer (one shared row for the residual variant)
        int degreeRows = residualBlocks ? 1 : hiddenLayers;
        var hid = new int[degreeRows][];
        int[] prev = inDeg;
        for (int l = 0; l < degreeRows; l++)
        {
            hid[l] = new int[h];
            if (randomHiddenDegrees)
            {
                int lo = Math.Min(prev.Min(), d - 1);
                for (int k = 0; k < h; k++) hid[l][k] = lo + rng.NextInt(d - lo); // [lo, d − 1]; D = 1 gives 0
            }
            else
            {
                int max = Math.Max(1, d - 1), min = Math.Min(1, d - 1);
                for (int k = 0; k < h; k++) hid[l][k] = k % max + min;
            }
            prev = hid[l];
        }
        // Layers wider than one GEMM block get their units numbered by degree (stable): they are built and initialised
        // with the degrees above, then relabelled, so a seed gives the same network either way; their masks become
        // staircases whose zero blocks the masked layers skip (about a third of a 128-unit layer's multiply-adds).
        var byDegree = new int[degreeRows][];
        for (int l = 0; l < degreeRows && h > MaskBlocks.GroupSize; l++)
        {
            byDegree[l] = Enumerable.Range(0, h).OrderBy(k => hid[l][k]).ToArray();
            if (byDegree[l].Select((k, i) => k == i).All(same => same)) byDegree[l] = null!;
        }
        _order = RegisterBuffer("order", Tensor<T>.FromDoubles(ord.Select(v => (double)v).ToArray(), d));
        var hd = Tensor<T>.Empty(degreeRows, h);
        for (int l = 0; l < degreeRows; l++) for (int k = 0; k < h; k++) hd[l, k] = T.CreateTruncating(hid[l][byDegree[l]?[k] ?? k]);
        _hiddenDegrees = RegisterBuffer("hidden_degrees", hd);

        var outDeg = new int[d * outputMultiplier];
        for (int c = 0; c < outDeg.Length; c++) outDeg[c] = inDeg[c / outputMultiplier];
        var lastInit = zeroInitLast ? LinearInit.Zeros : LinearInit.Default;
        var layers = RegisterModule("layers", new ModuleList<T>());
        if (!residualBlocks)
        {
            _layers = new MaskedLinear<T>[hiddenLayers + 1];
            _layers[0] = layers.Add(new MaskedLinear<T>(HiddenMask(inDeg, hid[0], contextFeatures), rng, init: hiddenInit));
            for (int l = 1; l < hiddenLayers; l++) _layers[l] = layers.Add(new MaskedLinear<T>(HiddenMask(hid[l - 1], hid[l], 0), rng, init: hiddenInit));
            _layers[hiddenLayers] = layers.Add(new MaskedLinear<T>(OutputMask(hid[^1], outDeg, contextFeatures), rng, init: lastInit));
        }
        else
        {
            _layers = new MaskedLinear<T>[2];
            _layers[0] = layers.Add(new MaskedLinear<T>(HiddenMask(inDeg, hid[0], contextFeatures), rng, init: hiddenInit));
            _layers[1] = layers.Add(new MaskedLinear<T>(OutputMask(hid[0], outDeg, contextFeatures), rng, init: lastInit));
            var blocks = RegisterModule("blocks", new ModuleList<T>());
            _blockLayers = new MaskedLinear<T>[2 * hiddenLayers];
            var hh = HiddenMask(hid[0], hid[0], 0);
            for (int b = 0; b < hiddenLayers; b++)
            {
                var block = blocks.Add(new ModuleList<T>());
                _blockLayers[2 * b] = block.Add(new MaskedLinear<T>(hh, rng));
                _blockLayers[2 * b + 1] = block.Add(new MaskedLinear<T>(hh, rng, init: LinearInit.NearZero));
            }
        }
        if (!residualBlocks)
            for (int l = 0; l <= hiddenLayers; l++)
                _layers[l].RelabelUnits(l < hiddenLayers ? byDegree[l] : null, l > 0 ? byDegree[l - 1] : null);
        else
        {
            _layers[0].RelabelUnits(byDegree[0], null);
            _layers[1].RelabelUnits(null, byDegree[0]);
            foreach (var layer in _blockLayers!) layer.RelabelUnits(byDegree[0], byDegree[0]);
        }
        if (outputWeightScale != 1.0)
        {
            if (!(outputWeightScale >= 0 && double.IsFinite(outputWeightScale)))
                throw new ArgumentOutOfRangeException(nameof(outputWeightScale), outputWeightScale, "must be a finite scale ≥ 0");
            var w = _layers[^1].Weight.Value.Span;
            var f = T.CreateTruncating(outputWeightScale);
            for (int i = 0; i < w.Length; i++) w[i] *= f;
        }
        if (dropout > 0) _dropout = RegisterModule("dropout", new Dropout<T>(dropout, rng.Split()));
    }

    private static bool[,] HiddenMask(int[] inDeg, int[] outDeg, int contextFeatures)
    {
        var m = new bool[outDeg.Length, inDeg.Length + contextFeatures];
        for (int o = 0; o < outDeg.Length; o++)
        {
            for (int i = 0; i < inDeg.Length; i++) m[o, i] = outDeg[o] >= inDeg[i];
            for (int i = 0; i < contextFeatures; i++) m[o, inDeg.Length + i] = true;
        }
        return m;
    }

    private static bool[,] OutputMask(int[] hidDeg, int[] outDeg, int contextFeatures)
    {
        var m = new bool[outDeg.Length, hidDeg.Length + contextFeatures];
        for (int o = 0; o < outDeg.Length; o++)
        {
            for (int i = 0; i < hidDeg.Length; i++) m[o, i] = outDeg[o] > hidDeg[i];
            for (int i = 0; i < contextFeatures; i++) m[o, hidDeg.Length + i] = true;
        }
        return m;
    }

    /// <summary>
    /// The position of each feature in the autoregressive order: <paramref name="customOrder"/> (checked to be a
    /// permutation of 0 … d−1) or <paramref name="order"/> (a random one drawn from <paramref name="rng"/>).
    /// </summary>
    public static int[] ResolveOrder(int d, MadeOrder order, int[]? customOrder, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        int[] ord;
        if (customOrder is not null)
        {
            if (customOrder.Length != d) throw new ArgumentException($"custom order has {customOrder.Length} entries for {d} features", nameof(customOrder));
            var seen = new bool[d];
            foreach (int p in customOrder)
            {
                if ((uint)p >= (uint)d || seen[p]) throw new ArgumentException($"custom order [{string.Join(", ", customOrder)}] is not a permutation of 0 … {d - 1}", nameof(customOrder));
                seen[p] = true;
            }
            ord = (int[])customOrder.Clone();
        }
        else ord = order switch
        {
            MadeOrder.Natural => Enumerable.Range(0, d).ToArray(),
            MadeOrder.Reversed => Enumerable.Range(0, d).Select(j => d - 1 - j).ToArray(),
            MadeOrder.Random => rng.Permutation(d),
            _ => throw new ArgumentOutOfRangeException(nameof(order), order, "unknown order"),
        };
        return ord;
    }

    /// <summary>Number of features D.</summary>
    public int Features { get; }

    /// <summary>Hidden units per layer.</summary>
    public int HiddenFeatures { get; }

    /// <summary>Outputs per feature m (output width D·m, feature-major).</summary>
    public int OutputMultiplier { get; }

    /// <summary>Context features (0 for none).</summary>
    public int ContextFeatures { get; }

    /// <summary>The hidden activation.</summary>
    public Activation Activation { get; }

    /// <summary>True for the residual-block variant.</summary>
    public bool IsResidual { get; }

    /// <summary>Order[j] = 0-based position of input feature j in the autoregressive order (read from the "order" buffer).</summary>
    public int[] Order => _order.ToArray().Select(v => int.CreateTruncating(v)).ToArray();

    /// <summary>Input degrees Order[j] + 1.</summary>
    public int[] InputDegrees => Order.Select(p => p + 1).ToArray();

    /// <summary>Degrees of the units of hidden layer <paramref name="layer"/> (the residual variant has one shared row, layer 0).</summary>
    public int[] HiddenDegrees(int layer) => _hiddenDegrees.Row(layer).ToArray().Select(v => int.CreateTruncating(v)).ToArray();

    /// <summary>
    /// The masked layers in the feed-forward path: input layer, hidden layers, output layer (for the residual variant:
    /// input and output layer only; the blocks are in <see cref="BlockLayers"/>).
    /// </summary>
    public IReadOnlyList<MaskedLinear<T>> Layers => _layers;

    /// <summary>The residual blocks' masked layers, two per block (empty for the feed-forward variant).</summary>
    public IReadOnlyList<MaskedLinear<T>> BlockLayers => _blockLayers ?? [];

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> x) => Forward(x, null);

    /// <summary>Applies the network to x [N, D] (and context [N, C] when built with context): output [N, D·m].</summary>
    public Var<T> Forward(Var<T> x, Var<T>? context)
    {
        if (x.Value.Rank != 2 || x.Value.Dim(1) != Features)
            throw new ArgumentException($"MADE: input must be [batch, {Features}], got {x.Value.ShapeString}");
        if ((ContextFeatures > 0) != (context is not null))
            throw new ArgumentException(ContextFeatures > 0 ? $"MADE expects a context with {ContextFeatures} features" : "MADE was built without context features");
        var input = context is null ? x : Ops.ConcatColumns(x, context);
        if (_blockLayers is null)
        {
            // hidden layers: masked linear with the ReLU fused in (bias and activation in one pass after the GEMM)
            bool fuse = Activation == Activation.Relu;
            var h = fuse ? _layers[0].ForwardRelu(input) : Activations.Apply(Activation, _layers[0].Forward(input));
            for (int l = 1; l < _layers.Length; l++)
            {
                if (_dropout is not null) h = _dropout.Forward(h);
                if (l == _layers.Length - 1) return _layers[l].Forward(WithContext(h, context));
                h = fuse ? _layers[l].ForwardRelu(h) : Activations.Apply(Activation, _layers[l].Forward(h));
            }
            return h;
        }
        var hr = _layers[0].Forward(input);
        for (int b = 0; b < _blockLayers.Length; b += 2)
        {
            var t = Activations.Apply(Activation, hr);
            t = _blockLayers[b].Forward(t);
            t = Activations.Apply(Activation, t);
            if (_dropout is not null) t = _dropout.Forward(t);
            t = _blockLayers[b + 1].Forward(t);
            hr = Ops.Add(hr, t);
        }
        return _layers[1].Forward(WithContext(hr, context)); // as nflows: no activation between the last block and the output layer
    }

    private static Var<T> WithContext(Var<T> h, Var<T>? context) => context is null ? h : Ops.ConcatColumns(h, context);
}
