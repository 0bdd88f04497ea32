using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>
/// Residual network as in nflows: initial Linear (on [x, context] when context features are given) → residual
/// blocks → final Linear. The constructor's zeroInitLast zeroes the final layer (flow conditioners).
/// </summary>
public sealed class ResidualNet<T> : Module<T>, ILayer<T>, IConditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Linear<T> _initial, _final;
    private readonly ResidualBlock<T>[] _blocks;

    /// <summary>Creates the network.</summary>
    public ResidualNet(int inFeatures, int outFeatures, int hiddenFeatures, Rng rng, int contextFeatures = 0, int numBlocks = 2,
        Activation activation = Activation.Relu, double dropout = 0.0, bool useBatchNorm = false, bool zeroInitLast = false)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (contextFeatures < 0) throw new ArgumentOutOfRangeException(nameof(contextFeatures), contextFeatures, "must be ≥ 0");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        ContextFeatures = contextFeatures;
        Activation = activation;
        UsesBatchNorm = useBatchNorm;
        _initial = RegisterModule("initial", new Linear<T>(inFeatures + contextFeatures, hiddenFeatures, rng));
        var blocks = RegisterModule("blocks", new ModuleList<T>());
        _blocks = new ResidualBlock<T>[numBlocks];
        for (int i = 0; i < numBlocks; i++)
            _blocks[i] = blocks.Add(new ResidualBlock<T>(hiddenFeatures, rng, contextFeatures, activation, dropout, useBatchNorm));
        _final = RegisterModule("final", new Linear<T>(hiddenFeatures, outFeatures, rng, init: zeroInitLast ? LinearInit.Zeros : LinearInit.Default));
    }

    /// <summary>Input features (without context).</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>Context features (0 for none).</summary>
    public int ContextFeatures { get; }

    /// <summary>The blocks' activation.</summary>
    public Activation Activation { get; }

    /// <summary>Whether the blocks normalise their batches (batch norm before each activation).</summary>
    public bool UsesBatchNorm { get; }

    /// <summary>The number of residual blocks.</summary>
    public int BlockCount => _blocks.Length;

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> x) => Forward(x, null);

    /// <summary>Applies the network; <paramref name="context"/> [N, contextFeatures] is required when built with context.</summary>
    public Var<T> Forward(Var<T> x, Var<T>? context)
    {
        if ((ContextFeatures > 0) != (context is not null))
            throw new ArgumentException(ContextFeatures > 0 ? $"ResidualNet expects a context with {ContextFeatures} features" : "ResidualNet was built without context features");
        var h = _initial.Forward(context is null ? x : Ops.ConcatColumns(x, context));
        foreach (var b in _blocks) h = b.Forward(h, context);
        return _final.Forward(h);
    }
}
