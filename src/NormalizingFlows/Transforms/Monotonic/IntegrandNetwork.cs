using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Monotonic;

/// <summary>
/// The integrand network of <see cref="UmnnUpdate"/>: o(s, h), a tanh MLP of the position s and a feature's embedding
/// h (E values from the conditioner), (1 + E) → hidden (× layers) → 1, shared by all rows and features of a layer;
/// the integrand is g = ELU(o) + 1 &gt; 0. The output layer starts at zero (g ≡ 1). Evaluated at Q positions
/// s_j = x·c_j per row at once: the first layer's h-part runs once per row, the s-part is added per position.
/// Saved as parameters "input.weight", "input.bias" (the h-part), "position" (the s-column), "hidden{i}.*", "output.*".
/// </summary>
public sealed class IntegrandNetwork<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Linear<T> _input, _output;
    private readonly Parameter<T> _position;
    private readonly Linear<T>[] _hidden;

    /// <summary>A network for embeddings of <paramref name="embedding"/> values, <paramref name="hidden"/> units in each of <paramref name="layers"/> tanh layers.</summary>
    public IntegrandNetwork(int embedding, int hidden, int layers, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (embedding < 1) throw new ArgumentOutOfRangeException(nameof(embedding), embedding, "the embedding needs at least one value");
        if (hidden < 1) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "the integrand network needs hidden units");
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), layers, "the integrand network needs at least one hidden layer");
        _input = RegisterModule("input", new Linear<T>(embedding, hidden, rng));
        _position = RegisterParameter("position", new Parameter<T>(Tensor<T>.Empty(hidden)));
        double bound = 1.0 / Math.Sqrt(embedding + 1);
        rng.Uniform(_position.Value.Span, -bound, bound);
        _hidden = new Linear<T>[layers - 1];
        for (int i = 0; i < _hidden.Length; i++) _hidden[i] = RegisterModule($"hidden{i}", new Linear<T>(hidden, hidden, rng));
        _output = RegisterModule("output", new Linear<T>(hidden, 1, rng, init: LinearInit.Zeros));
        Embedding = embedding;
    }

    /// <summary>Embedding values E per feature.</summary>
    public int Embedding { get; }

    /// <summary>o(x_r·c_j, h_r) [R, Q] for positions x [R, 1], embeddings h [R, E] and the Q factors <paramref name="scales"/>.</summary>
    public Var<T> Output(Var<T> x, Var<T> h, double[] scales)
    {
        var a = _input.Forward(h);
        var z = Ops.Tanh(Expand(a, x, _position, scales));
        foreach (var layer in _hidden) z = Ops.Tanh(layer.Forward(z));
        return Ops.Reshape(_output.Forward(z), x.Value.Dim(0), scales.Length);
    }

    /// <summary>pre[r·Q + j, u] = a[r, u] + x_r·c_j·v_u: the first layer at every position of every row.</summary>
    private static Var<T> Expand(Var<T> a, Var<T> x, Var<T> v, double[] c)
    {
        int rows = a.Value.Dim(0), hidden = a.Value.Dim(1), q = c.Length;
        var result = Tensor<T>.Empty(rows * q, hidden);
        var av = a.Value.ReadOnlySpan; var xv = x.Value.ReadOnlySpan; var vv = v.Value.ReadOnlySpan; var o = result.Span;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < q; j++)
            {
                T s = xv[r] * T.CreateTruncating(c[j]);
                var dst = o.Slice((r * q + j) * hidden, hidden); var src = av.Slice(r * hidden, hidden);
                for (int u = 0; u < hidden; u++) dst[u] = src[u] + s * vv[u];
            }
        if (!(GradMode.IsEnabled && (a.RequiresGrad || x.RequiresGrad || v.RequiresGrad))) return new Var<T>(result);
        return new Var<T>(result, [a, x, v], node =>
        {
            var g = node.Grad!.ReadOnlySpan;
            var ga = a.RequiresGrad ? a.GradBuffer().Span : default;
            var gx = x.RequiresGrad ? x.GradBuffer().Span : default;
            var gv = v.RequiresGrad ? v.GradBuffer().Span : default;
            var xs = x.Value.ReadOnlySpan; var vs = v.Value.ReadOnlySpan;
            for (int r = 0; r < rows; r++)
            {
                T gxr = T.Zero;
                for (int j = 0; j < q; j++)
                {
                    T cj = T.CreateTruncating(c[j]), s = xs[r] * cj;
                    var gr = g.Slice((r * q + j) * hidden, hidden);
                    T dot = T.Zero;
                    for (int u = 0; u < hidden; u++)
                    {
                        T gg = gr[u];
                        dot += gg * vs[u];
                        if (!ga.IsEmpty) ga[r * hidden + u] += gg;
                        if (!gv.IsEmpty) gv[u] += gg * s;
                    }
                    gxr += dot * cj;
                }
                if (!gx.IsEmpty) gx[r] += gxr;
            }
        });
    }
}
