using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Continuous;

/// <summary>
/// The velocity v_θ(x, t[, c]) of a continuous flow: a tanh MLP on [x, τ(t), c] with τ(t) = (t, sin 2πkt, cos 2πkt)
/// for k = 1…<see cref="TimeFrequencies"/>, <see cref="Layers"/> hidden layers of <see cref="Hidden"/> units and a
/// linear output of D (initialised to zero, so a fresh field is v = 0 and its flow the identity).
/// <see cref="EvaluateWithDivergence"/> also gives tr(∂v/∂x), exactly or by Hutchinson's estimator, as forward-mode
/// tangents through the same layers built from ordinary autograd ops, so its gradients with respect to x and θ are exact.
/// Parameters: "input.weight" [H, D + 1 + 2F + C], "input.bias", "hidden{i}.*" [H, H], "output.*" [D, H].
/// </summary>
public sealed class VectorField<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Linear<T>[] _layers;
    private readonly Linear<T> _output;
    private Tensor<T>? _identityProbes; // the exact trace's probes for the most rows so far (immutable once built)

    /// <summary>A field on <paramref name="features"/> features (and <paramref name="contextFeatures"/> context features), initialised from <paramref name="rng"/>.</summary>
    public VectorField(int features, int hidden, int layers, Rng rng, int contextFeatures = 0, int timeFrequencies = 3)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(contextFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(timeFrequencies);
        Features = features; Hidden = hidden; Layers = layers; ContextFeatures = contextFeatures; TimeFrequencies = timeFrequencies;
        _layers = new Linear<T>[layers];
        _layers[0] = RegisterModule("input", new Linear<T>(features + 1 + 2 * timeFrequencies + contextFeatures, hidden, rng));
        for (int i = 1; i < layers; i++) _layers[i] = RegisterModule($"hidden{i}", new Linear<T>(hidden, hidden, rng));
        _output = RegisterModule("output", new Linear<T>(hidden, features, rng, init: LinearInit.Zeros));
    }

    /// <summary>Data features D.</summary>
    public int Features { get; }

    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; }

    /// <summary>Hidden layers (tanh).</summary>
    public int Layers { get; }

    /// <summary>Context features C (0: unconditional).</summary>
    public int ContextFeatures { get; }

    /// <summary>Frequencies F of the time features sin 2πkt, cos 2πkt.</summary>
    public int TimeFrequencies { get; }

    /// <summary>v(x, t, c) for rows <paramref name="x"/> [N, D] at times <paramref name="time"/> [N].</summary>
    public Var<T> Evaluate(Var<T> x, Tensor<T> time, Var<T>? context = null) => Output(Hiddens(x, time, context));

    /// <summary>
    /// v(x, t, c) and per row tr(∂v/∂x) [N]: exact (D tangents through the network in one batched pass) when
    /// <paramref name="probe"/> is null, else Hutchinson's εᵀ(∂v/∂x)ε for the probe rows ε = <paramref name="probe"/> [N, D].
    /// </summary>
    public (Var<T> Velocity, Var<T> Divergence) EvaluateWithDivergence(Var<T> x, Tensor<T> time, Var<T>? context = null, Tensor<T>? probe = null)
    {
        var hidden = Hiddens(x, time, context);
        int n = x.Value.Dim(0), d = Features;
        if (probe is not null && !probe.HasShape(n, d))
            throw new ArgumentException($"the probe must be [{n}, {d}], got {probe.ShapeString}", nameof(probe));
        int k = probe is null ? d : 1;
        var p = new Var<T>(probe ?? IdentityProbes(n));
        // tangent of the first pre-activation along each probe: p·W[:, :D]ᵀ (time and context do not move)
        var tangent = Ops.MatMul(p, Ops.SliceColumns(_layers[0].Weight, 0, d), transB: true);
        for (int i = 0; i < _layers.Length; i++)
        {
            if (i > 0) tangent = Ops.MatMul(tangent, _layers[i].Weight, transB: true);
            var slope = Ops.ScaleShift(Ops.Square(hidden[i]), -1.0, 1.0); // tanh′ = 1 − a²
            tangent = Ops.Mul(Repeat(slope, k), tangent);
        }
        var vDot = Ops.MatMul(tangent, _output.Weight, transB: true); // [N·k, D]
        var divergence = Ops.SumRows(Ops.Mul(vDot, p));
        if (k > 1) divergence = Ops.SumRows(Ops.Reshape(divergence, n, k));
        return (Output(hidden), divergence);
    }

    private Var<T>[] Hiddens(Var<T> x, Tensor<T> time, Var<T>? context)
    {
        var xv = x.Value;
        if (xv.Rank != 2 || xv.Dim(1) != Features)
            throw new ArgumentException($"{TypeNames.Of(this)}: input must be [batch, {Features}], got {xv.ShapeString}", nameof(x));
        int n = xv.Dim(0);
        if (time.Length != n) throw new ArgumentException($"{TypeNames.Of(this)}: {time.Length} times for {n} rows", nameof(time));
        if (ContextFeatures > 0 && (context is null || !context.Value.HasShape(n, ContextFeatures)))
            throw new ArgumentException($"{TypeNames.Of(this)} is conditional: it needs a context of [{n}, {ContextFeatures}]", nameof(context));
        var input = ContextFeatures > 0
            ? Ops.ConcatColumns(x, new Var<T>(TimeFeatures(time)), context!)
            : Ops.ConcatColumns(x, new Var<T>(TimeFeatures(time)));
        var hidden = new Var<T>[_layers.Length];
        var h = input;
        for (int i = 0; i < _layers.Length; i++) h = hidden[i] = Ops.Tanh(_layers[i].Forward(h));
        return hidden;
    }

    private Var<T> Output(Var<T>[] hidden) => _output.Forward(hidden[^1]);

    /// <summary>τ(t) per row: [t, sin 2πkt, cos 2πkt (k = 1…F)].</summary>
    private Tensor<T> TimeFeatures(Tensor<T> time)
    {
        int n = time.Length, e = 1 + 2 * TimeFrequencies;
        var f = Tensor<T>.Empty(n, e);
        var ts = time.ReadOnlySpan; var fs = f.Span;
        for (int r = 0; r < n; r++)
        {
            double t = double.CreateTruncating(ts[r]);
            fs[r * e] = T.CreateTruncating(t);
            for (int k = 1; k <= TimeFrequencies; k++)
            {
                var (s, c) = Math.SinCos(2 * Math.PI * k * t);
                fs[r * e + 2 * k - 1] = T.CreateTruncating(s);
                fs[r * e + 2 * k] = T.CreateTruncating(c);
            }
        }
        return f;
    }

    /// <summary>
    /// [N·D, D]: row (r, j) is the unit vector e_j. Built once for the most rows asked so far and kept (untracked: no
    /// scope returns it to the pool; it is never written again, so concurrent callers may share it); fewer rows are a
    /// view of its first N·D rows.
    /// </summary>
    private Tensor<T> IdentityProbes(int n)
    {
        int d = Features;
        var cached = _identityProbes;
        if (cached is null || cached.Dim(0) < n * d)
        {
            cached = Tensor<T>.Zeros(n * d, d).Untrack();
            var s = cached.Span;
            for (int r = 0; r < n; r++)
                for (int j = 0; j < d; j++) s[(r * d + j) * d + j] = T.One;
            _identityProbes = cached;
        }
        return cached.Dim(0) == n * d ? cached : cached.FirstRows(n * d);
    }

    /// <summary>Each row of <paramref name="x"/> [N, H] repeated <paramref name="k"/> times: [N·k, H].</summary>
    private static Var<T> Repeat(Var<T> x, int k)
        => k == 1 ? x : Ops.Reshape(Ops.ConcatColumns(Enumerable.Repeat(x, k).ToArray()), x.Value.Dim(0) * k, x.Value.Dim(1));
}
