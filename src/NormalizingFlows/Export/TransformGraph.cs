using System.Numerics;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Nn;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Continuous;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Export;

/// <summary>
/// Walks a transform's objects and writes each one's Forward (data → base, with log|det|) or Inverse (base → data) into
/// an <see cref="OnnxGraph"/> with its current weights, as the library computes it in evaluation mode. Sequential
/// directions (MAF sampling, IAF density) are unrolled into D conditioner passes, as the library's graph mode runs
/// them. A part without an ONNX form throws a <see cref="NotSupportedException"/> naming it.
/// </summary>
internal sealed class TransformGraph<T>(OnnxGraph g) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// The inverse map alone, as the library's <see cref="Transform{T}.InverseWithoutLogDet"/> (what sampling runs):
    /// a continuous step solves without its trace, every other part as <see cref="Apply"/>'s inverse.
    /// </summary>
    public string ApplyInverseWithoutLogDet(Transform<T> t, string y, string? context)
    {
        switch (t)
        {
            case CompositeTransform<T> c:
                foreach (var step in c.Steps.Reverse()) y = ApplyInverseWithoutLogDet(step, y, context);
                return y;
            case ContinuousTransform<T> c:
                return ContinuousGraph.Apply(g, c, y, c.ContextFeatures > 0 ? context : null, inverse: true, trace: false).Y;
            default:
                return Apply(t, y, context, inverse: true).Y;
        }
    }

    /// <summary>The transform applied to the [N, D] value <paramref name="x"/>: its output and log|det| per row ([N]; null when 0).</summary>
    public (string Y, string? LogDet) Apply(Transform<T> t, string x, string? context, bool inverse)
    {
        switch (t)
        {
            case CompositeTransform<T> c:
            {
                string? total = null;
                var steps = inverse ? c.Steps.Reverse() : c.Steps;
                foreach (var step in steps)
                {
                    (x, var ld) = Apply(step, x, context, inverse);
                    total = Sum(total, ld);
                }
                return (x, total);
            }
            case InverseTransform<T> i:
                return Apply(i.Inner, x, context, !inverse);
            case PreprocessingPipeline<T> p:
                return Apply(p.Steps, x, null, inverse);
            case ColumnwiseTransform<T> cw:
            {
                int d = cw.Features;
                var cols = cw.Columns.ToArray();
                var (mapped, ld) = Apply(cw.Inner, g.Columns(x, cols), null, inverse);
                var others = Enumerable.Range(0, d).Except(cols).ToArray();
                return (Merge(mapped, cols, others.Length == 0 ? null : g.Columns(x, others), others), ld);
            }
            case DomainGuard<T> guard:
                return inverse ? (x, null) : Guard(guard, x);
            case LogTransform<T> log:
            {
                var shift = Values(log.Shift);
                var sign = log.Upper.Select(u => u ? -1.0 : 1.0).ToArray();
                int d = shift.Length;
                if (!inverse)
                {
                    var l = g.Log(g.Mul(g.Const(sign, d), g.Sub(x, g.Const(shift, d))));
                    return (l, g.Neg(g.ReduceSum(l, 1)));
                }
                return (g.Add(g.Const(shift, d), g.Mul(g.Const(sign, d), g.Exp(x))), g.ReduceSum(x, 1));
            }
            case MinMaxScaler<T> mm:
            {
                var low = Values(mm.Low); var high = Values(mm.High);
                int d = low.Length;
                var width = low.Select((l, j) => high[j] - l).ToArray();
                double logDet = -width.Sum(Math.Log);
                return inverse
                    ? (g.Add(g.Mul(x, g.Const(width, d)), g.Const(low, d)), Constant(x, -logDet))
                    : (g.Mul(g.Sub(x, g.Const(low, d)), g.Const(width.Select(w => 1 / w).ToArray(), d)), Constant(x, logDet));
            }
            case FixedAffine<T> f:
            {
                var scale = Values(f.Scale); var shift = Values(f.Shift);
                int d = scale.Length;
                double logDet = scale.Sum(s => Math.Log(Math.Abs(s)));
                return inverse
                    ? (g.Mul(g.Sub(x, g.Const(shift, d)), g.Const(scale.Select(s => 1 / s).ToArray(), d)), Constant(x, -logDet))
                    : (g.Add(g.Mul(x, g.Const(scale, d)), g.Const(shift, d)), Constant(x, logDet));
            }
            case ElementwiseAffine<T> e:
                return ExpAffine(Values(e.LogScale.Value), Values(e.Shift.Value), x, inverse);
            case ActNorm<T> a:
                return ExpAffine(Values(a.LogScale.Value), Values(a.Shift.Value), x, inverse);
            case BatchNormTransform<T> bn:
                return BatchNorm(bn, x, inverse);
            case Permutation<T> p:
            {
                var order = p.Order.ToArray();
                if (!inverse) return (g.Columns(x, order), null);
                var inv = new int[order.Length];
                for (int j = 0; j < order.Length; j++) inv[order[j]] = j;
                return (g.Columns(x, inv), null);
            }
            case LuLinear<T> lu:
                return Lu(lu, x, inverse);
            case Planar<T> planar when inverse:
                return (Planar(planar, x), null);
            case Planar<T>:
                throw new NotSupportedException("ONNX export: a planar layer's density direction (data → base) needs a root find per layer and has no closed form; export the sampling graph of a planar flow");
            case Sigmoid<T> when !inverse:
            case Logit<T> { Eps: 0 } when inverse:
                return (g.Sigmoid(x), g.ReduceSum(g.Neg(g.Add(g.Softplus(g.Neg(x)), g.Softplus(x))), 1));
            case Sigmoid<T>:
            case Logit<T> { Eps: 0 }:
            {
                var lp = g.Log(x); var lq = g.Log1p(g.Neg(x));
                return (g.Sub(lp, lq), g.ReduceSum(g.Neg(g.Add(lp, lq)), 1));
            }
            case Logit<T> logit:
                return Logit(logit.Eps, x, inverse);
            case Tanh<T> when !inverse:
            {
                var a = g.Abs(x);
                var ld = g.Mul(g.Scalar(2), g.Sub(g.Sub(g.Scalar(Math.Log(2)), a), g.Softplus(g.Mul(g.Scalar(-2), a))));
                return (g.Tanh(x), g.ReduceSum(ld, 1));
            }
            case Tanh<T>:
            {
                var lp = g.Log1p(x); var lm = g.Log1p(g.Neg(x));
                return (g.Mul(g.Scalar(0.5), g.Sub(lp, lm)), g.ReduceSum(g.Neg(g.Add(lp, lm)), 1));
            }
            case Softplus<T> when !inverse:
                return (g.Softplus(x), g.ReduceSum(g.Neg(g.Softplus(g.Neg(x))), 1));
            case Softplus<T>:
            {
                var lm = g.Log(g.Neg(g.Expm1(g.Neg(x))));
                return (g.Add(x, lm), g.ReduceSum(g.Neg(lm), 1));
            }
            case LeakyRelu<T> l:
            {
                double slope = inverse ? 1 / l.NegativeSlope : l.NegativeSlope;
                var negative = g.Less(x, g.Scalar(0));
                return (g.Where(negative, g.Mul(x, g.Scalar(slope)), x), g.ReduceSum(g.Where(negative, g.Scalar(Math.Log(slope)), g.Scalar(0)), 1));
            }
            case Radial<T> radial:
                return Radial(radial, x, inverse);
            case CouplingTransform<T> c:
            {
                var cond = c.Mask.ConditioningIndices; var trans = c.Mask.TransformedIndices;
                var xa = g.Columns(x, cond);
                var parameters = Network(c.Conditioner, c.ConditionerFactory, xa, c.ContextFeatures > 0 ? context : null);
                var (yb, ld) = Update(c.Update, g.Columns(x, trans), parameters, trans.Length, inverse, Weights(c));
                return (Merge(yb, trans, xa, cond), ld);
            }
            case AutoregressiveTransform<T> a:
                return Autoregressive(a.Update, Weights(a), a.Conditioner, a.ConditionerFactory, a.Features, x, a.ContextFeatures > 0 ? context : null, sequential: inverse, inverse);
            case InverseAutoregressiveTransform<T> a:
                return Autoregressive(a.Update, Weights(a), a.Conditioner, a.ConditionerFactory, a.Features, x, a.ContextFeatures > 0 ? context : null, sequential: !inverse, !inverse);
            case ContinuousTransform<T> c:
                return ContinuousGraph.Apply(g, c, x, c.ContextFeatures > 0 ? context : null, inverse);
            default:
                throw new NotSupportedException($"ONNX export: the transform {TypeNames.Of(t)} is not supported");
        }
    }

    /// <summary>
    /// An autoregressive layer: one conditioner pass on x itself (<paramref name="sequential"/> false), or D passes
    /// from x = 0 that each fix one more position in the order (the update's output read back as the conditioner's input).
    /// </summary>
    private (string, string?) Autoregressive(IElementwiseUpdate update, Nn.Module<T>? weights, Nn.Module<T> network, IConditionerFactory factory, int features, string x,
        string? context, bool sequential, bool inverse)
    {
        if (!sequential) return Update(update, x, Network(network, factory, x, context), features, inverse, weights);
        var current = g.Fill(x, 0);
        string? ld = null;
        for (int step = 0; step < features; step++)
            (current, ld) = Update(update, x, Network(network, factory, current, context), features, inverse, weights);
        return (current, ld);
    }

    /// <summary>The weights an update of <paramref name="layer"/> brought along (UMNN's integrand network, the layer's module "update"), or null.</summary>
    private static Nn.Module<T>? Weights(Nn.Module<T> layer) => layer.NamedChildren().FirstOrDefault(c => c.Key == "update").Value;

    private string Network(Nn.Module<T> network, IConditionerFactory factory, string x, string? context)
        => NetworkGraph<T>.Conditioner(g, network, x, context, factory is ConditionerNetwork n ? n.Activation : Activation.Relu);

    /// <summary>An elementwise update of [N, K] with parameters [N, K·m] (and the update's own <paramref name="weights"/>, if it has any).</summary>
    private (string Y, string? LogDet) Update(IElementwiseUpdate update, string x, string parameters, int k, bool inverse, Nn.Module<T>? weights = null)
    {
        switch (update)
        {
            case SigmoidalUpdate s:
            {
                var (y, ld) = SigmoidalGraph.Apply<T>(g, s.Map, x, parameters, k, inverse);
                return (y, g.ReduceSum(ld, 1));
            }
            case UmnnUpdate u:
            {
                var network = weights as IntegrandNetwork<T> ?? throw new NotSupportedException("ONNX export: a UMNN update without its layer's integrand network (module 'update')");
                var (y, ld) = UmnnGraph.Apply(g, u, network, x, parameters, k, inverse);
                return (y, g.ReduceSum(ld, 1));
            }
            case AdditiveUpdate:
                return (inverse ? g.Sub(x, parameters) : g.Add(x, parameters), null);
            case AffineUpdate a:
            {
                var p = g.Reshape(parameters, 0, k, 2);
                var raw = g.Squeeze(g.Slice(p, 2, 0, 1), 2);
                var shift = g.Squeeze(g.Slice(p, 2, 1, 2), 2);
                var l = LogScale(a.Scale, raw);
                return inverse
                    ? (g.Mul(g.Sub(x, shift), g.Exp(g.Neg(l))), g.Neg(g.ReduceSum(l, 1)))
                    : (g.Add(g.Mul(x, g.Exp(l)), shift), g.ReduceSum(l, 1));
            }
            case SplineUpdate s:
            {
                var (y, ld) = SplineGraph.Apply(g, s.Spline, x, parameters, k, inverse);
                return (y, g.ReduceSum(ld, 1));
            }
            case MaskedUpdate m:
            {
                var mask = m.Mask.ToArray();
                var selected = Enumerable.Range(0, k).Where(j => mask[j]).ToArray();
                var others = Enumerable.Range(0, k).Where(j => !mask[j]).ToArray();
                (string, string?) Run(IElementwiseUpdate u, int[] features)
                {
                    int mu = u.ParametersPerFeature, all = m.ParametersPerFeature;
                    var cols = features.SelectMany(f => Enumerable.Range(f * all, mu)).ToArray();
                    return Update(u, features.Length == k ? x : g.Columns(x, features), g.Columns(parameters, cols), features.Length, inverse);
                }
                if (others.Length == 0) return Run(m.Selected, selected);
                if (selected.Length == 0) return Run(m.Others, others);
                var (ys, lds) = Run(m.Selected, selected);
                var (yo, ldo) = Run(m.Others, others);
                return (Merge(ys, selected, yo, others), Sum(lds, ldo));
            }
            default:
                throw new NotSupportedException($"ONNX export: the elementwise update {update.GetType().Name} is not supported");
        }
    }

    /// <summary>log s of an affine update's raw scale output.</summary>
    private string LogScale(AffineScale scale, string raw)
    {
        switch (scale.Kind)
        {
            case AffineScaleKind.SoftClampedExp:
                return double.IsPositiveInfinity(scale.Bound) ? raw : g.Mul(g.Scalar(scale.Bound), g.Tanh(g.Div(raw, g.Scalar(scale.Bound))));
            case AffineScaleKind.RationalClampedExp:
                return g.Div(raw, g.Add(g.Scalar(1), g.Div(g.Abs(raw), g.Scalar(scale.Bound))));
            case AffineScaleKind.Sigmoid:
                return g.Log(g.Add(g.Sigmoid(g.Add(raw, g.Scalar(2))), g.Scalar(1e-3)));
            case AffineScaleKind.Softplus:
                return g.Log(g.Add(g.Softplus(g.Add(raw, g.Scalar(AffineScale.SoftplusOffset))), g.Scalar(1e-3)));
            default:
                throw new NotSupportedException($"ONNX export: the affine scale {scale.Kind} is not supported");
        }
    }

    private (string, string?) Guard(DomainGuard<T> guard, string x)
    {
        int d = guard.Features;
        var inside = g.And(g.Greater(x, g.Const(Values(guard.Lower), d)), g.Less(x, g.Const(Values(guard.Upper), d)));
        var outside = g.Greater(g.ReduceSum(g.Cast(g.Not(inside), g.Real), 1, keep: true), g.Scalar(0));
        var y = g.Where(outside, g.Const(Values(guard.Anchor), d), x);
        return (y, g.Where(g.Squeeze(outside, 1), g.Scalar(double.NegativeInfinity), g.Scalar(0)));
    }

    private (string, string?) Logit(double eps, string x, bool inverse)
    {
        double scale = 1 - 2 * eps, logScale = Math.Log(scale);
        if (!inverse)
        {
            var lu = g.Log(g.Add(g.Scalar(eps), g.Mul(g.Scalar(scale), x)));
            var lw = g.Log(g.Add(g.Scalar(eps), g.Mul(g.Scalar(scale), g.Sub(g.Scalar(1), x))));
            return (g.Sub(lu, lw), g.ReduceSum(g.Sub(g.Sub(g.Scalar(logScale), lu), lw), 1));
        }
        var p = g.Sigmoid(x);
        var ld = g.Sub(g.Neg(g.Add(g.Softplus(g.Neg(x)), g.Softplus(x))), g.Scalar(logScale));
        return (g.Div(g.Sub(p, g.Scalar(eps)), g.Scalar(scale)), g.ReduceSum(ld, 1));
    }

    private (string, string?) ExpAffine(double[] logScale, double[] shift, string x, bool inverse)
    {
        int d = logScale.Length;
        double sum = logScale.Sum();
        return inverse
            ? (g.Mul(g.Sub(x, g.Const(shift, d)), g.Const(logScale.Select(s => Math.Exp(-s)).ToArray(), d)), Constant(x, -sum))
            : (g.Add(g.Mul(x, g.Const(logScale.Select(Math.Exp).ToArray(), d)), g.Const(shift, d)), Constant(x, sum));
    }

    private (string, string?) BatchNorm(BatchNormTransform<T> bn, string x, bool inverse)
    {
        var mean = Values(bn.RunningMean); var variance = Values(bn.RunningVar);
        var gamma = Values(bn.LogGamma.Value); var beta = Values(bn.Beta.Value);
        int d = mean.Length;
        var std = variance.Select(v => Math.Sqrt(v + bn.Eps)).ToArray();
        double logDet = 0;
        for (int j = 0; j < d; j++) logDet += gamma[j] + Math.Log(1.0 / std[j]);
        if (inverse)
        {
            var mul = gamma.Select((gj, j) => Math.Exp(-gj) * std[j]).ToArray();
            return (g.Add(g.Mul(g.Sub(x, g.Const(beta, d)), g.Const(mul, d)), g.Const(mean, d)), Constant(x, -logDet));
        }
        var scale = gamma.Select((gj, j) => Math.Exp(gj) / std[j]).ToArray();
        return (g.Add(g.Mul(g.Sub(x, g.Const(mean, d)), g.Const(scale, d)), g.Const(beta, d)), Constant(x, logDet));
    }

    private (string, string?) Lu(LuLinear<T> lu, string x, bool inverse)
    {
        int d = lu.Features;
        var w = lu.Weight();
        var bias = Values(lu.Bias.Value);
        double logDet = Values(lu.LogAbsDiag.Value).Sum();
        if (!inverse) return (g.Linear(x, Flatten(w), d, d, bias), Constant(x, logDet));
        return (g.Linear(g.Sub(x, g.Const(bias, d)), Flatten(Invert(w)), d, d, null), Constant(x, -logDet));
    }

    private string Planar(Planar<T> p, string z)
    {
        int d = p.Features;
        var uh = p.ConstrainedU();
        var a = g.Add(g.MatMul(z, g.Const(Values(p.W.Value), d, 1)), g.Scalar(Values(p.B.Value)[0]));
        return g.Add(z, g.Mul(g.Tanh(a), g.Const(uh, 1, d)));
    }

    /// <summary>
    /// The radial map: sampling applies f(z) = z₀ + (1 + β/(α + r))·(z − z₀); the density direction solves for the radius
    /// in the same cancellation-free closed form as the library.
    /// </summary>
    private (string, string?) Radial(Radial<T> radial, string v, bool inverse)
    {
        int d = radial.Features;
        var (alpha, beta) = radial.AlphaBeta();
        var diff = g.Sub(v, g.Const(Values(radial.Z0.Value), d));
        var norm = g.Sqrt(g.ReduceSum(g.Mul(diff, diff), 1, keep: true));
        string r = norm;
        if (!inverse)
        {
            var bb = g.Sub(g.Scalar(alpha + beta), norm);
            var s = g.Sqrt(g.Add(g.Mul(bb, bb), g.Mul(g.Scalar(4 * alpha), norm)));
            var den = g.Add(bb, s);
            var positive = g.Greater(den, g.Scalar(0));
            var stable = g.Where(positive, g.Div(g.Mul(g.Scalar(2 * alpha), norm), g.Where(positive, den, g.Scalar(1))), g.Scalar(0));
            r = g.Where(g.Less(bb, g.Scalar(0)), g.Mul(g.Scalar(0.5), g.Sub(s, bb)), stable);
        }
        var rho = g.Add(g.Scalar(alpha), r);
        var factor = inverse ? g.Add(g.Scalar(1), g.Div(g.Scalar(beta), rho)) : g.Div(rho, g.Add(rho, g.Scalar(beta)));
        var curvature = g.Log1p(g.Div(g.Scalar(alpha * beta), g.Mul(rho, rho)));
        var ld = g.Mul(g.Scalar(d - 1), g.Log(factor));
        ld = inverse ? g.Add(ld, curvature) : g.Sub(ld, curvature);
        return (g.Add(g.Const(Values(radial.Z0.Value), d), g.Mul(factor, diff)), g.Squeeze(ld, 1));
    }

    /// <summary>Columns a (at positions <paramref name="aCols"/>) and b (at <paramref name="bCols"/>) as one [N, D] value.</summary>
    public string Merge(string a, int[] aCols, string? b, int[] bCols)
    {
        var positions = aCols.Concat(bCols).ToArray();
        var gather = new int[positions.Length];
        for (int i = 0; i < positions.Length; i++) gather[positions[i]] = i;
        var joined = b is null ? a : g.Concat(1, a, b);
        return gather.Select((v, i) => v == i).All(same => same) ? joined : g.Columns(joined, gather);
    }

    /// <summary>The sum of two per-row log-determinants (null stands for 0).</summary>
    public string? Sum(string? a, string? b) => a is null ? b : b is null ? a : g.Add(a, b);

    /// <summary>A constant log|det| for every row of <paramref name="like"/> ([N]).</summary>
    private string Constant(string like, double value) => g.Squeeze(g.Fill(g.Column(like, 0), value), 1);

    private static double[] Values(Tensors.Tensor<T> t) => t.ToDoubleArray();

    private static double[] Flatten(double[,] a)
    {
        int r = a.GetLength(0), c = a.GetLength(1);
        var f = new double[r * c];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) f[i * c + j] = a[i, j];
        return f;
    }

    /// <summary>The inverse of a square matrix by Gauss–Jordan elimination with partial pivoting (double).</summary>
    private static double[,] Invert(double[,] a)
    {
        int n = a.GetLength(0);
        var m = (double[,])a.Clone();
        var inv = new double[n, n];
        for (int i = 0; i < n; i++) inv[i, i] = 1;
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col])) pivot = r;
            if (m[pivot, col] == 0) throw new ArgumentException("ONNX export: an LU-linear layer's weight is singular");
            for (int j = 0; j < n; j++)
            {
                (m[col, j], m[pivot, j]) = (m[pivot, j], m[col, j]);
                (inv[col, j], inv[pivot, j]) = (inv[pivot, j], inv[col, j]);
            }
            double p = m[col, col];
            for (int j = 0; j < n; j++) { m[col, j] /= p; inv[col, j] /= p; }
            for (int r = 0; r < n; r++)
            {
                if (r == col || m[r, col] == 0) continue;
                double f = m[r, col];
                for (int j = 0; j < n; j++) { m[r, j] -= f * m[col, j]; inv[r, j] -= f * inv[col, j]; }
            }
        }
        return inv;
    }
}
