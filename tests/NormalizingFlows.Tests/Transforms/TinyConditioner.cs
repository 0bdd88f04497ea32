using System.Numerics;
using System.Text.Json.Nodes;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>A user-written conditioner for the tests: [x, context] → tanh(W₁·) → W₂· (not autoregressive).</summary>
public sealed class TinyConditioner<T> : Module<T>, IConditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Linear<T> _hidden, _output;

    /// <summary>Creates the network for <paramref name="shape"/> with <paramref name="hidden"/> units.</summary>
    public TinyConditioner(ConditionerShape shape, int hidden, Rng rng)
    {
        _hidden = RegisterModule("hidden", new Linear<T>(shape.Inputs + shape.ContextFeatures, hidden, rng));
        _output = RegisterModule("output", new Linear<T>(hidden, shape.Outputs, rng));
    }

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> input, Var<T>? context)
        => _output.Forward(Ops.Tanh(_hidden.Forward(context is null ? input : Ops.ConcatColumns(input, context))));
}

/// <summary>A user-written autoregressive conditioner for the tests: a MADE behind a module of the user's own type.</summary>
public sealed class WrappedMade<T> : Module<T>, IConditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Made<T> _made;

    /// <summary>Creates the network for <paramref name="shape"/> (which must carry an order).</summary>
    public WrappedMade(ConditionerShape shape, int hidden, Rng rng)
        => _made = RegisterModule("inner", new Made<T>(shape.Inputs, hidden, rng, 1, shape.ParametersPerFeature, shape.ContextFeatures,
            customOrder: shape.Order!.ToArray(), activation: Activation.Tanh));

    /// <inheritdoc/>
    public Var<T> Forward(Var<T> input, Var<T>? context) => _made.Forward(input, context);
}

/// <summary>The factory of <see cref="TinyConditioner{T}"/> (or, with <see cref="Autoregressive"/>, of <see cref="WrappedMade{T}"/>), registered as "tiny-test".</summary>
public sealed record TinyConditionerFactory(int Hidden, bool Autoregressive = false) : IConditionerFactory
{
    /// <summary>The registered name.</summary>
    public const string KindName = "tiny-test";

    /// <inheritdoc/>
    public string Name => KindName;

    /// <inheritdoc/>
    public JsonObject Settings() => new() { ["hidden"] = Hidden, ["autoregressive"] = Autoregressive };

    /// <summary>Reads <see cref="Settings"/>' output.</summary>
    public static TinyConditionerFactory Read(JsonObject s) => new(s["hidden"]!.GetValue<int>(), s["autoregressive"]!.GetValue<bool>());

    /// <inheritdoc/>
    public Module<T> Create<T>(ConditionerShape shape, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
        => Autoregressive ? new WrappedMade<T>(shape, Hidden, rng) : new TinyConditioner<T>(shape, Hidden, rng);
}
