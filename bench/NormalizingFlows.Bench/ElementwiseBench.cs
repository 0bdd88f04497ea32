using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Bench;

/// <summary>
/// Elementwise kernel throughput: one JSON line per (op, n) with the fused kernel, TensorPrimitives (a composition
/// of its primitives where it has no such op; null where none is reasonable) and a scalar MathF loop, in G elements/s,
/// median of repeats, float32. Options: --threads N (default 1), --n N (default 1M and 64K), --quick.
/// </summary>
public static class ElementwiseBench
{
    /// <summary>Runs the benchmark and prints JSON lines; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        int threads = 1; bool quick = false; var sizes = new List<int>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads" && i + 1 < args.Length) threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--n" && i + 1 < args.Length) sizes.Add(int.Parse(args[++i], CultureInfo.InvariantCulture));
            else if (args[i] == "--quick") quick = true;
        }
        if (sizes.Count == 0) sizes.AddRange([1_000_000, 65_536]);
        int saved = WorkerPool.MaxThreads;
        WorkerPool.MaxThreads = threads;
        try
        {
            foreach (int n in sizes) RunSize(n, threads, quick);
        }
        finally { WorkerPool.MaxThreads = saved; }
        return 0;
    }

    private static void RunSize(int n, int threads, bool quick)
    {
        var rnd = new Random(1);
        float[] x = new float[n], xp = new float[n], gy = new float[n], gx = new float[n], y = new float[n], t = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (float)(rnd.NextDouble() * 20 - 10);
            xp[i] = (float)(rnd.NextDouble() * 100 + 1e-3);
            gy[i] = (float)(rnd.NextDouble() * 2 - 1);
        }
        Elementwise.Tanh<float>(x, t); // a tanh / sigmoid output to feed backward maps
        var ops = new (string Name, Action Fused, Action? Tp, Action Scalar)[]
        {
            ("exp", () => Elementwise.Exp<float>(x, y), () => Chunked(n, (o, l) => TensorPrimitives.Exp(x.AsSpan(o, l), y.AsSpan(o, l))),
                () => { for (int i = 0; i < n; i++) y[i] = MathF.Exp(x[i]); }),
            ("log", () => Elementwise.Log<float>(xp, y), () => Chunked(n, (o, l) => TensorPrimitives.Log(xp.AsSpan(o, l), y.AsSpan(o, l))),
                () => { for (int i = 0; i < n; i++) y[i] = MathF.Log(xp[i]); }),
            ("log1p", () => Elementwise.Log1p<float>(xp, y), () => Chunked(n, (o, l) => TensorPrimitives.LogP1(xp.AsSpan(o, l), y.AsSpan(o, l))),
                () => { for (int i = 0; i < n; i++) y[i] = (float)Math.Log(1 + (double)xp[i]); }),
            ("tanh", () => Elementwise.Tanh<float>(x, y), () => Chunked(n, (o, l) => TensorPrimitives.Tanh(x.AsSpan(o, l), y.AsSpan(o, l))),
                () => { for (int i = 0; i < n; i++) y[i] = MathF.Tanh(x[i]); }),
            ("sigmoid", () => Elementwise.Sigmoid<float>(x, y), () => Chunked(n, (o, l) => TensorPrimitives.Sigmoid(x.AsSpan(o, l), y.AsSpan(o, l))),
                () => { for (int i = 0; i < n; i++) y[i] = 1f / (1f + MathF.Exp(-x[i])); }),
            ("softplus", () => Elementwise.Softplus<float>(x, y), () => Chunked(n, (o, l) => { // log(1 + exp(x)): TP has no softplus
                    TensorPrimitives.Exp(x.AsSpan(o, l), y.AsSpan(o, l)); TensorPrimitives.LogP1(y.AsSpan(o, l), y.AsSpan(o, l)); }),
                () => { for (int i = 0; i < n; i++) { float v = x[i]; y[i] = MathF.Max(v, 0) + MathF.Log(1 + MathF.Exp(-MathF.Abs(v))); } }),
            ("silu", () => Elementwise.Silu<float>(x, y), () => Chunked(n, (o, l) => {
                    TensorPrimitives.Sigmoid(x.AsSpan(o, l), y.AsSpan(o, l)); TensorPrimitives.Multiply(x.AsSpan(o, l), y.AsSpan(o, l), y.AsSpan(o, l)); }),
                () => { for (int i = 0; i < n; i++) y[i] = x[i] / (1f + MathF.Exp(-x[i])); }),
            ("elu", () => Elementwise.Elu<float>(x, 1f, y), null,
                () => { for (int i = 0; i < n; i++) { float v = x[i]; y[i] = v > 0 ? v : MathF.Exp(v) - 1f; } }),
            ("relu", () => Elementwise.Relu<float>(x, y), () => Chunked(n, (o, l) => TensorPrimitives.Max(x.AsSpan(o, l), 0f, y.AsSpan(o, l))),
                () => { for (int i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0; }),
            ("add", () => Elementwise.Add<float>(x, gy, y), () => Chunked(n, (o, l) => TensorPrimitives.Add(x.AsSpan(o, l), gy.AsSpan(o, l), y.AsSpan(o, l))),
                () => { for (int i = 0; i < n; i++) y[i] = x[i] + gy[i]; }),
            ("exp_backward", () => Elementwise.ExpBackward<float>(t, gy, gx), () => Chunked(n, (o, l) => TensorPrimitives.FusedMultiplyAdd(t.AsSpan(o, l), gy.AsSpan(o, l), gx.AsSpan(o, l), gx.AsSpan(o, l))),
                () => { for (int i = 0; i < n; i++) gx[i] += gy[i] * t[i]; }),
            ("log_backward", () => Elementwise.LogBackward<float>(xp, gy, gx), null,
                () => { for (int i = 0; i < n; i++) gx[i] += gy[i] / xp[i]; }),
            ("tanh_backward", () => Elementwise.TanhBackward<float>(t, gy, gx), null,
                () => { for (int i = 0; i < n; i++) gx[i] += gy[i] * (1 - t[i] * t[i]); }),
            ("sigmoid_backward", () => Elementwise.SigmoidBackward<float>(t, gy, gx), null,
                () => { for (int i = 0; i < n; i++) gx[i] += gy[i] * t[i] * (1 - t[i]); }),
            ("softplus_backward", () => Elementwise.SoftplusBackward<float>(x, gy, gx), () => Chunked(n, (o, l) => {
                    TensorPrimitives.Sigmoid(x.AsSpan(o, l), y.AsSpan(o, l)); TensorPrimitives.FusedMultiplyAdd(y.AsSpan(o, l), gy.AsSpan(o, l), gx.AsSpan(o, l), gx.AsSpan(o, l)); }),
                () => { for (int i = 0; i < n; i++) gx[i] += gy[i] / (1f + MathF.Exp(-x[i])); }),
            ("silu_backward", () => Elementwise.SiluBackward<float>(x, gy, gx), null,
                () => { for (int i = 0; i < n; i++) { float s = 1f / (1f + MathF.Exp(-x[i])); gx[i] += gy[i] * (s + x[i] * s * (1 - s)); } }),
            ("elu_backward", () => Elementwise.EluBackward<float>(x, t, 1f, gy, gx), null,
                () => { for (int i = 0; i < n; i++) gx[i] += x[i] > 0 ? gy[i] : gy[i] * (t[i] + 1f); }),
        };
        foreach (var op in ops)
        {
            double fused = Measure(op.Fused, n, quick);
            double? tp = op.Tp is null ? null : Measure(op.Tp, n, quick);
            double scalar = Measure(op.Scalar, n, quick);
            Array.Clear(gx);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"bench\":\"elementwise\",\"op\":\"{op.Name}\",\"dtype\":\"float32\",\"n\":{n},\"threads\":{threads},\"gelem_per_s\":{fused:F3},\"tensorprimitives_gelem_per_s\":{(tp is null ? "null" : tp.Value.ToString("F3", CultureInfo.InvariantCulture))},\"scalar_gelem_per_s\":{scalar:F3}}}"));
        }
    }

    private static void Chunked(int n, Action<int, int> body)
    {
        for (int o = 0; o < n; o += 65536) body(o, Math.Min(65536, n - o)); // TensorPrimitives is slower on spans ≫ 64K
    }

    /// <summary>Median over repeats of G elements/s; each repeat runs the action for ≥ ~10 ms (≥ 3 ms with --quick).</summary>
    private static double Measure(Action a, int n, bool quick)
    {
        for (int w = 0; w < 3; w++) a();
        var sw = Stopwatch.StartNew();
        a();
        double once = Math.Max(sw.Elapsed.TotalSeconds, 1e-7);
        int reps = (int)Math.Clamp((quick ? 0.003 : 0.01) / once, 1, 100000);
        int samples = quick ? 5 : 9;
        var rates = new double[samples];
        for (int s = 0; s < samples; s++)
        {
            sw.Restart();
            for (int r = 0; r < reps; r++) a();
            rates[s] = (double)n * reps / sw.Elapsed.TotalSeconds / 1e9;
        }
        Array.Sort(rates);
        return rates[samples / 2];
    }
}
