using System.Numerics;
using NormalizingFlows.Distributions;
using NormalizingFlows.IO;
using NormalizingFlows.Models;

namespace NormalizingFlows.Export;

/// <summary>
/// Writes a <see cref="FlowModel{T}"/> (preprocessing + flow; for a conditional model also the context preprocessing
/// and embedding) as an ONNX model, opset <see cref="Opset"/>, encoded here without an ONNX library. Inputs and
/// outputs are float32 with a symbolic batch dimension "N"; inside, the graph computes in the model's own type (float or
/// double). The log-density graph (<see cref="OnnxGraphKind.LogProb"/>) returns the numbers of
/// <see cref="FlowModel{T}.LogProb"/>, preprocessing Jacobian and −∞ outside the domain included; the sampling graph
/// (<see cref="OnnxGraphKind.Sample"/>) maps given base noise to events in original units, as
/// <see cref="FlowModel{T}.Sample"/> does (dequantized columns floored, no clamping). Noise: standard-normal values
/// per feature, except on the periodic features of a periodic base, where it is the uniform value on [−π, π) itself.
/// Root finds (the NAF and UMNN inverses) and ODE solves (continuous flows) run as ONNX <c>Loop</c>s that take the
/// library's steps, with its tolerances and step limits.
/// Parts without an ONNX form (a planar flow's density, a Gaussian-mixture base's sampling, user transforms) throw a
/// <see cref="NotSupportedException"/> naming them.
/// </summary>
public static class OnnxExport
{
    /// <summary>The ONNX opset of the exported graphs (default domain).</summary>
    public const int Opset = OnnxGraph.Opset;

    /// <summary>The ONNX model bytes of <paramref name="graph"/> for <paramref name="model"/>.</summary>
    public static byte[] ToBytes<T>(FlowModel<T> model, OnnxGraphKind graph) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"ONNX export supports float and double models, not {typeof(T).Name}");
        var g = new OnnxGraph(typeof(T) == typeof(float) ? OnnxGraph.Float32 : OnnxGraph.Float64);
        var transforms = new TransformGraph<T>(g);
        int d = model.Features;
        string? context = null;
        if (model.ContextFeatures > 0)
        {
            context = Real(g, g.Input("context", OnnxGraph.Float32, "N", model.ContextFeatures));
            if (model.ContextPreprocessing is { } cp) context = transforms.Apply(cp, context, null, inverse: false).Y;
            if (model.Embedding is { } e) context = NetworkGraph<T>.Embedding(g, e, context);
        }
        var flow = model.Inner;
        if (graph == OnnxGraphKind.LogProb)
        {
            var x = Real(g, g.Input("x", OnnxGraph.Float32, "N", d));
            var (z, ld) = model.Preprocessing is { } pre ? transforms.Apply(pre, x, null, inverse: false) : (x, null);
            // FlowModel.LogProb's far rows: an infinite value, or beyond its limit after preprocessing; the flow sees
            // them as the centre row (z = 0 mapped back and forth), as in the library, where a batch-wide ODE step
            // control would otherwise feel them
            double limit = model.Preprocessing is null ? Math.Sqrt(typeof(T) == typeof(float) ? float.MaxValue : double.MaxValue) / 1e4 : FlowModel<T>.FarOutside;
            var far = g.Or(AnyInRow(g, g.Node("IsInf", [x])), AnyInRow(g, g.Greater(g.Abs(z), g.Scalar(limit))));
            z = g.Where(g.Unsqueeze(far, 1), g.Const(CentreRow(model), 1, d), z);
            var (u, ldFlow) = transforms.Apply(flow.Transform, z, context, inverse: false);
            var lp = transforms.Sum(BaseLogProb(g, flow.Base, u), transforms.Sum(ld, ldFlow))!;
            lp = g.Where(far, g.Scalar(double.NegativeInfinity), lp);
            g.Output("log_prob", Float(g, lp), OnnxGraph.Float32, "N");
        }
        else
        {
            var noise = Real(g, g.Input("noise", OnnxGraph.Float32, "N", d));
            var x = transforms.ApplyInverseWithoutLogDet(flow.Transform, BaseFromNoise(g, flow.Base, noise), context);
            if (model.Preprocessing is { } pre)
            {
                x = transforms.Apply(pre, x, null, inverse: true).Y;
                var floored = pre.DequantizedColumns.ToArray();
                if (floored.Length > 0)
                {
                    var rest = Enumerable.Range(0, d).Except(floored).ToArray();
                    x = transforms.Merge(g.Floor(g.Columns(x, floored)), floored, rest.Length > 0 ? g.Columns(x, rest) : null, rest);
                }
            }
            g.Output("x", Float(g, x), OnnxGraph.Float32, "N", d);
        }
        var metadata = new Dictionary<string, string>
        {
            ["nflow.graph"] = graph == OnnxGraphKind.LogProb ? "logprob" : "sample",
            ["nflow.columns"] = string.Join(",", model.Columns),
            ["nflow.context_columns"] = string.Join(",", model.ContextColumns),
            ["nflow.dtype"] = typeof(T) == typeof(float) ? "float32" : "float64",
        };
        string doc = graph == OnnxGraphKind.LogProb
            ? "log p(x" + (context is null ? "" : " | context") + ") in the original units of " + string.Join(", ", model.Columns)
            : "events in the original units from base noise" + (context is null ? "" : " and context");
        return g.ToModel(graph == OnnxGraphKind.LogProb ? "nflow_logprob" : "nflow_sample", doc, metadata);
    }

    /// <summary>Writes <see cref="ToBytes{T}"/>' model to <paramref name="path"/> (atomically, through a temporary file beside it).</summary>
    public static void Write<T>(FlowModel<T> model, string path, OnnxGraphKind graph) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = ToBytes(model, graph);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>The flow's input for FlowModel.LogProb's centre row: the data-space image of z = 0, preprocessed.</summary>
    private static double[] CentreRow<T>(FlowModel<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (model.Preprocessing is not { } pre) return new double[model.Features];
        using var _ = Autograd.GradMode.Disable();
        return pre.Forward(new Autograd.Var<T>(Tensors.Tensor<T>.From(model.CentreRow(), 1, model.Features))).Y.Value.ToDoubleArray();
    }

    private static string Real(OnnxGraph g, string x) => g.Convert(x, OnnxGraph.Float32, g.Real);

    private static string Float(OnnxGraph g, string x) => g.Convert(x, g.Real, OnnxGraph.Float32);

    /// <summary>Per row of a boolean [N, D]: true when any entry is.</summary>
    private static string AnyInRow(OnnxGraph g, string condition) => g.Greater(g.ReduceSum(g.Cast(condition, g.Real), 1), g.Scalar(0));

    private const double Log2Pi = 1.8378770664093453;

    private static string NormalLogProb(OnnxGraph g, string z, int d)
        => g.Sub(g.Scalar(-0.5 * d * Log2Pi), g.Mul(g.Scalar(0.5), g.ReduceSum(g.Mul(z, z), 1)));

    private static string BaseLogProb<T>(OnnxGraph g, Distribution<T> distribution, string z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int d = distribution.Features;
        switch (distribution)
        {
            case StandardNormal<T>:
                return NormalLogProb(g, z, d);
            case DiagonalNormal<T> n:
            {
                var ls = n.LogStd.Value.ToDoubleArray();
                var u = g.Mul(g.Sub(z, g.Const(n.Mean.Value.ToDoubleArray(), d)), g.Const(ls.Select(v => Math.Exp(-v)).ToArray(), d));
                return g.Sub(NormalLogProb(g, u, d), g.Scalar(ls.Sum()));
            }
            case GaussianMixture<T> m:
            {
                int k = m.Components;
                var logits = m.Logits.Value.ToDoubleArray();
                double top = logits.Max(), norm = top + Math.Log(logits.Sum(l => Math.Exp(l - top)));
                var ls = m.LogStds.Value.ToDoubleArray();
                var constant = new double[k];
                for (int c = 0; c < k; c++)
                {
                    constant[c] = logits[c] - norm - 0.5 * d * Log2Pi;
                    for (int j = 0; j < d; j++) constant[c] -= ls[c * d + j];
                }
                var u = g.Mul(g.Sub(g.Unsqueeze(z, 1), g.Const(m.Means.Value.ToDoubleArray(), k, d)), g.Const(ls.Select(v => Math.Exp(-v)).ToArray(), k, d));
                var comp = g.Sub(g.Const(constant, k), g.Mul(g.Scalar(0.5), g.ReduceSum(g.Mul(u, u), 2)));
                var mx = g.ReduceMax(comp, 1, keep: true);
                return g.Add(g.Squeeze(mx, 1), g.Log(g.ReduceSum(g.Exp(g.Sub(comp, mx)), 1)));
            }
            case PeriodicNormal<T> p:
            {
                var periodic = p.Periodic.ToArray();
                var ordinary = Enumerable.Range(0, d).Except(periodic).ToArray();
                var angles = g.Columns(z, periodic);
                var outside = AnyInRow(g, g.Greater(g.Abs(angles), g.Scalar(p.Bound)));
                var constant = g.Where(outside, g.Scalar(double.NegativeInfinity), g.Scalar(-periodic.Length * Math.Log(2 * p.Bound)));
                return ordinary.Length == 0 ? constant : g.Add(NormalLogProb(g, g.Columns(z, ordinary), ordinary.Length), constant);
            }
            default:
                throw new NotSupportedException($"ONNX export: the base distribution {TypeNames.Of(distribution)} is not supported");
        }
    }

    private static string BaseFromNoise<T>(OnnxGraph g, Distribution<T> distribution, string noise) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int d = distribution.Features;
        return distribution switch
        {
            StandardNormal<T> or PeriodicNormal<T> => noise,
            DiagonalNormal<T> n => g.Add(g.Mul(noise, g.Const(n.LogStd.Value.ToDoubleArray().Select(Math.Exp).ToArray(), d)), g.Const(n.Mean.Value.ToDoubleArray(), d)),
            _ => throw new NotSupportedException($"ONNX export: sampling from the base distribution {TypeNames.Of(distribution)} is not supported (it needs a discrete draw); export its log-density graph"),
        };
    }
}
