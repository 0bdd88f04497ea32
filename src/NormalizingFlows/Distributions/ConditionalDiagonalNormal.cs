using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Distributions;

/// <summary>
/// A diagonal normal whose mean and log standard deviation come from a network of the context:
/// net(context) = [μ (d columns), log σ (d columns)].
/// </summary>
public sealed class ConditionalDiagonalNormal<T> : Distribution<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ILayer<T> _net;

    /// <summary>
    /// Wraps <paramref name="net"/> (a module mapping [N, contextFeatures] to [N, 2·features]); with no net given, an
    /// MLP with two hidden layers of 64 units and a zero-initialised output (so it starts as N(0, I)).
    /// </summary>
    public ConditionalDiagonalNormal(int features, int contextFeatures, Rng rng, Module<T>? net = null) : base(features, contextFeatures)
    {
        if (contextFeatures <= 0) throw new ArgumentOutOfRangeException(nameof(contextFeatures), contextFeatures, "a conditional distribution needs context features");
        net ??= new Mlp<T>(contextFeatures, [64, 64], 2 * features, rng, zeroInitLast: true);
        if (net is not ILayer<T> layer) throw new ArgumentException("the network must implement ILayer<T>", nameof(net));
        _net = layer;
        RegisterModule("net", net);
    }

    private (Var<T> mean, Var<T> logStd) Parameters(Var<T> context)
    {
        var p = _net.Forward(context);
        if (p.Value.Rank != 2 || p.Value.Dim(1) != 2 * Features)
            throw new InvalidOperationException($"the context network returned {p.Value.ShapeString}; expected [batch, {2 * Features}]");
        var parts = Ops.SplitColumns(p, Features, Features);
        return (parts[0], parts[1]);
    }

    /// <inheritdoc/>
    public override Var<T> LogProb(Var<T> x, Var<T>? context = null)
    {
        CheckInput(x, context);
        var (mean, logStd) = Parameters(context!);
        return DiagonalNormal<T>.GaussianLogProb(x, mean, logStd);
    }

    /// <inheritdoc/>
    public override Var<T> Sample(int n, Rng rng, Var<T>? context = null)
    {
        CheckCount(n);
        CheckContext(context, n);
        var (mean, logStd) = Parameters(context!);
        return Ops.Add(Ops.Mul(new Var<T>(rng.Normal<T>(n, Features)), Ops.Exp(logStd)), mean);
    }
}
