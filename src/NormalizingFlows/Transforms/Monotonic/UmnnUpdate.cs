using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Monotonic;

/// <summary>
/// The unconstrained monotonic neural network update (UMNN, Wehenkel &amp; Louppe 2019):
/// y = β·∫₀ˣ g(s, h) ds + α with g = ELU(o(s, h)) + 1 &gt; 0 the output of an <see cref="IntegrandNetwork{T}"/>; per
/// feature the conditioner gives α, β̃ (β = 10⁻³ + softplus(β̃)) and an embedding h of <see cref="Embedding"/> values
/// (2 + E parameters). The integrand network's weights are the update's own: a layer binds the update
/// (<see cref="IElementwiseUpdate.Bind{T}"/>), which creates one network per layer, shared by its rows and features
/// and saved as the layer's module "update". The integral is Clenshaw–Curtis quadrature with <see cref="Nodes"/>
/// points on [0, x] (<see cref="ClenshawCurtis"/>), one autograd op that keeps no graph of the network and re-evaluates it
/// node block by node block in the backward (the Leibniz rule: memory O(rows·hidden), not O(rows·nodes·hidden·layers)); log|dy/dx| is the exact
/// log β + log g(x, h) (the quadrature's end point s = x), so the density is exact for the map's true integral and the
/// computed y differs from it by the quadrature error. With tanh hidden units g tends to constants as s → ±∞: the map
/// is asymptotically affine and maps ℝ onto ℝ. The inverse is a safeguarded Newton solve (derivative β·g) to
/// <see cref="Tolerance"/>; with a graph its gradients come from one implicit Newton step,
/// x = x* − (f(x*) − y)/f′(x*) with x* and f′ held constant (f′ of the quadrature, by central differences). A fresh layer (zero output layer, identity parameters) is the identity.
/// </summary>
public sealed record UmnnUpdate : IElementwiseUpdate
{
    /// <summary>An update with embeddings of <paramref name="embedding"/> values, an integrand network of <paramref name="layers"/> tanh layers of
    /// <paramref name="hidden"/> units, <paramref name="nodes"/> quadrature points and inverse tolerance <paramref name="tolerance"/> (relative).</summary>
    public UmnnUpdate(int embedding = 8, int hidden = 32, int layers = 2, int nodes = 17, double tolerance = 1e-10)
    {
        if (embedding < 1) throw new ArgumentOutOfRangeException(nameof(embedding), embedding, "the embedding needs at least one value");
        if (hidden < 1) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "the integrand network needs hidden units");
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), layers, "the integrand network needs at least one hidden layer");
        if (nodes < 2) throw new ArgumentOutOfRangeException(nameof(nodes), nodes, "the quadrature needs at least 2 points");
        if (!(tolerance > 0 && tolerance < 1)) throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "the inverse's tolerance must lie in (0, 1)");
        (Embedding, Hidden, Layers, Nodes, Tolerance) = (embedding, hidden, layers, nodes, tolerance);
        var (t, w) = ClenshawCurtis.Rule(nodes);
        _scales = t.Select(v => 0.5 * (1 + v)).ToArray();
        _weights = w.Select(v => 0.5 * v).ToArray();
    }

    // position factors c_j = (1 + t_j)/2 (c_0 = 1: the end point x) and weights w_j/2 of ∫₀ˣ g ds ≈ x·Σ_j (w_j/2)·g(x·c_j)
    private readonly double[] _scales, _weights;

    /// <summary>Embedding values E per feature.</summary>
    public int Embedding { get; }

    /// <summary>Hidden units per layer of the integrand network.</summary>
    public int Hidden { get; }

    /// <summary>Hidden (tanh) layers of the integrand network.</summary>
    public int Layers { get; }

    /// <summary>Clenshaw–Curtis points on [0, x], both ends included.</summary>
    public int Nodes { get; }

    /// <summary>Relative tolerance of the inverse (raised to 8 machine epsilons in float).</summary>
    public double Tolerance { get; }

    /// <inheritdoc/>
    public int ParametersPerFeature => 2 + Embedding;

    /// <summary>α = 0, β = 1, h = 0: with the integrand network's zero output layer, the identity.</summary>
    public double[] IdentityParameters()
    {
        var p = new double[ParametersPerFeature];
        p[1] = SigmoidalMap.UnitSlope;
        return p;
    }

    /// <summary>Refused: the update needs its integrand network, which a layer's <see cref="Bind{T}"/> creates.</summary>
    public (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
        => throw new InvalidOperationException("the UMNN update has weights of its own (its integrand network): run it inside a CouplingTransform or AutoregressiveTransform, which bind it (IElementwiseUpdate.Bind)");

    /// <summary>Creates the layer's integrand network from <paramref name="rng"/> and the update that runs with it.</summary>
    public (IElementwiseUpdate Update, Module<T>? Weights) Bind<T>(Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var network = new IntegrandNetwork<T>(Embedding, Hidden, Layers, rng);
        return (new Bound<T>(this, network), network);
    }

    /// <summary>y [N, K] and log dy/dx [N, K] of every element, differentiable.</summary>
    internal (Var<T> Y, Var<T> LogDerivative) Evaluate<T>(IntegrandNetwork<T> network, Var<T> x, Var<T> parameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Value.Dim(0), k = x.Value.Dim(1), rows = n * k;
        var xr = Ops.Reshape(x, rows, 1);
        var theta = Ops.Reshape(parameters, rows, ParametersPerFeature);
        var alpha = Ops.SliceColumns(theta, 0, 1);
        var beta = Ops.ScaleShift(Ops.Softplus(Ops.SliceColumns(theta, 1, 1)), 1.0, SigmoidalMap.MinSlope);
        var quadrature = UmnnQuadrature.Evaluate(network, xr, Ops.SliceColumns(theta, 2, Embedding), _scales, _weights);
        var integral = Ops.Mul(Ops.SliceColumns(quadrature, 0, 1), xr);
        var y = Ops.Add(Ops.Mul(beta, integral), alpha);
        // the first Clenshaw–Curtis node is the end point s = x (scale 1): its output gives log f′(x)
        return (Ops.Reshape(y, n, k), Ops.Reshape(LogSlope(beta, Ops.SliceColumns(quadrature, 1, 1)), n, k));
    }

    /// <summary>log f′(x) = log β + log g(x, h) alone: the integrand network at the end point only (the inverse needs no integral).</summary>
    internal Var<T> LogDerivative<T>(IntegrandNetwork<T> network, Var<T> x, Var<T> parameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Value.Dim(0), k = x.Value.Dim(1), rows = n * k;
        var theta = Ops.Reshape(parameters, rows, ParametersPerFeature);
        var beta = Ops.ScaleShift(Ops.Softplus(Ops.SliceColumns(theta, 1, 1)), 1.0, SigmoidalMap.MinSlope);
        var end = network.Output(Ops.Reshape(x, rows, 1), Ops.SliceColumns(theta, 2, Embedding), EndPoint);
        return Ops.Reshape(LogSlope(beta, end), n, k);
    }

    private static readonly double[] EndPoint = [1.0];

    // log β + log g, with log g(x, h) = log(ELU(o) + 1): o below 0, log1p(o) above (no underflow of e^o)
    private static Var<T> LogSlope<T>(Var<T> beta, Var<T> end) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var negative = end.Value.ToArray().Select(v => v < T.Zero).ToArray();
        return Ops.Add(Ops.Log(beta), Ops.Where(negative, end, Ops.Log1p(Ops.Relu(end))));
    }

    /// <summary>The update bound to one layer's integrand network.</summary>
    private sealed class Bound<TW>(UmnnUpdate settings, IntegrandNetwork<TW> network) : IElementwiseUpdate where TW : unmanaged, IFloatingPointIeee754<TW>
    {
        public int ParametersPerFeature => settings.ParametersPerFeature;

        public double[] IdentityParameters() => settings.IdentityParameters();

        public (Var<T> Output, Var<T> LogAbsDet) Apply<T>(Var<T> input, Var<T> parameters, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (typeof(T) != typeof(TW)) throw new ArgumentException($"this UMNN update is bound to a {typeof(TW).Name} layer, not {typeof(T).Name}");
            var (y, ld) = Run((Var<TW>)(object)input, (Var<TW>)(object)parameters, inverse);
            return ((Var<T>)(object)y, (Var<T>)(object)ld);
        }

        private (Var<TW>, Var<TW>) Run(Var<TW> input, Var<TW> parameters, bool inverse)
        {
            var iv = input.Value;
            if (iv.Rank != 2) throw new ArgumentException($"UMNN update: input must be [batch, features], got {iv.ShapeString}", nameof(input));
            int n = iv.Dim(0), k = iv.Dim(1);
            if (parameters.Value.Rank != 2 || parameters.Value.Dim(0) != n || parameters.Value.Dim(1) != k * ParametersPerFeature)
                throw new ArgumentException($"UMNN update: parameters must be [{n}, {k * ParametersPerFeature}] ({ParametersPerFeature} per feature), got {parameters.Value.ShapeString}", nameof(parameters));
            if (!inverse)
            {
                var (y, ld) = settings.Evaluate(network, input, parameters);
                return (y, Ops.SumRows(ld));
            }
            bool graph = GradMode.IsEnabled && (input.RequiresGrad || parameters.RequiresGrad || network.Parameters().Any(p => p.RequiresGrad));
            var xStar = Solve(input.Value, parameters.Value, graph, out var slope);
            if (!graph) return (new Var<TW>(xStar), Ops.Neg(Ops.SumRows(settings.LogDerivative(network, new Var<TW>(xStar), parameters))));
            // one Newton step with x* and f′(x*) held constant: the value stays x*, the gradients are the implicit ones
            var (fStar, _) = settings.Evaluate(network, new Var<TW>(xStar), parameters);
            var x = Ops.Sub(new Var<TW>(xStar), Ops.Div(Ops.Sub(fStar, input), new Var<TW>(slope!)));
            return (x, Ops.Neg(Ops.SumRows(settings.LogDerivative(network, x, parameters))));
        }

        /// <summary>x* = f⁻¹(y) without a graph, and (with <paramref name="withSlope"/>) the slope f′(x*) of the computed map.</summary>
        private Tensor<TW> Solve(Tensor<TW> y, Tensor<TW> parameters, bool withSlope, out Tensor<TW>? slope)
        {
            int n = y.Dim(0), k = y.Dim(1);
            var yd = new double[n * k]; var xd = new double[n * k];
            var ys = y.ReadOnlySpan;
            for (int i = 0; i < yd.Length; i++) yd[i] = double.CreateTruncating(ys[i]);
            var probe = Tensor<TW>.Empty(n, k);
            var p = new Var<TW>(parameters);
            using (GradMode.Disable())
            {
                MonotonicSolver.Solve(yd, xd, (xs, f, df) =>
                {
                    var ps = probe.Span;
                    for (int i = 0; i < xs.Length; i++) ps[i] = TW.CreateTruncating(xs[i]);
                    using (TensorScope.Begin())
                    {
                        var (fv, ld) = settings.Evaluate(network, new Var<TW>(probe), p);
                        var fs = fv.Value.ReadOnlySpan; var ls = ld.Value.ReadOnlySpan;
                        for (int i = 0; i < xs.Length; i++) { f[i] = double.CreateTruncating(fs[i]); df[i] = Math.Exp(double.CreateTruncating(ls[i])); }
                    }
                }, MonotonicSolver.EffectiveTolerance<TW>(settings.Tolerance), "UMNN update");
                var ps2 = probe.Span;
                for (int i = 0; i < xd.Length; i++) ps2[i] = TW.CreateTruncating(xd[i]);
                slope = null;
                if (!withSlope) return probe;
                // the slope of the computed map (the quadrature) at x*, by central differences with h = ε^(1/3)·max(1, |x*|):
                // the implicit gradients need it; β·g(x*) is the slope of the exact integral and differs by the quadrature error
                slope = Tensor<TW>.Empty(n, k);
                double h = Math.Cbrt(double.CreateTruncating(TW.BitIncrement(TW.One) - TW.One));
                var up = Tensor<TW>.Empty(n, k); var down = Tensor<TW>.Empty(n, k);
                var us = up.Span; var ds = down.Span;
                for (int i = 0; i < xd.Length; i++)
                {
                    double step = h * Math.Max(1.0, Math.Abs(xd[i]));
                    us[i] = TW.CreateTruncating(xd[i] + step); ds[i] = TW.CreateTruncating(xd[i] - step);
                }
                using (TensorScope.Begin())
                {
                    var fu = settings.Evaluate(network, new Var<TW>(up), p).Y.Value.ReadOnlySpan;
                    var fd = settings.Evaluate(network, new Var<TW>(down), p).Y.Value.ReadOnlySpan;
                    var ss = slope.Span;
                    for (int i = 0; i < ss.Length; i++) ss[i] = (fu[i] - fd[i]) / (us[i] - ds[i]);
                }
                up.Dispose(); down.Dispose();
            }
            return probe;
        }
    }
}
