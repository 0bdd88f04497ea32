using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Bench;

/// <summary>
/// Rational-quadratic spline throughput on one thread: one JSON line per (op, dtype) with M elements/s, median of
/// repeats. Ops: forward, inverse, forward_backward, inverse_backward. Elements default to 512×18 (a MAF-RQS step
/// on 18 features), K = 8 bins on [−3, 3] with identity tails; inputs N(0, 1.5²), parameters N(0, 1).
/// Options: --n N (elements), --bins K, --dtype float32|float64|all, --quick.
/// </summary>
public static class SplineBench
{
    /// <summary>Runs the benchmark and prints JSON lines; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        int n = 512 * 18, bins = 8; bool quick = false; string dtype = "all";
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--n" && i + 1 < args.Length) n = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--bins" && i + 1 < args.Length) bins = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--dtype" && i + 1 < args.Length) dtype = args[++i];
            else if (args[i] == "--quick") quick = true;
        }
        var spline = new RationalQuadraticSpline(bins, SplineDomain.Symmetric(3));
        if (dtype is "float32" or "all") RunType<float>(spline, n, bins, quick, "float32");
        if (dtype is "float64" or "all") RunType<double>(spline, n, bins, quick, "float64");
        return 0;
    }

    private static void RunType<T>(RationalQuadraticSpline spline, int n, int bins, bool quick, string name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = spline.ParametersPerElement;
        var rng = new Rng(1);
        var x = new T[n]; var p = new T[n * m]; var y = new T[n]; var ld = new T[n]; var xr = new T[n];
        var gy = new T[n]; var gl = new T[n]; var gx = new T[n]; var gp = new T[n * m];
        for (int i = 0; i < n; i++)
        {
            x[i] = T.CreateTruncating(rng.NextNormal() * 1.5);
            gy[i] = T.CreateTruncating(rng.NextNormal());
            gl[i] = T.CreateTruncating(rng.NextNormal());
        }
        for (int i = 0; i < p.Length; i++) p[i] = T.CreateTruncating(rng.NextNormal());
        spline.Forward<T>(x, p, y, ld);
        var ops = new (string Name, Action Body)[]
        {
            ("forward", () => spline.Forward<T>(x, p, y, ld)),
            ("inverse", () => spline.Inverse<T>(y, p, xr, ld)),
            ("forward_backward", () => spline.ForwardBackward<T>(x, p, gy, gl, gx, gp)),
            ("inverse_backward", () => spline.InverseBackward<T>(y, p, gy, gl, gx, gp)),
        };
        foreach (var (opName, body) in ops)
        {
            double rate = Measure(body, n, quick);
            Array.Clear(gx); Array.Clear(gp);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"bench\":\"spline\",\"op\":\"{opName}\",\"dtype\":\"{name}\",\"elements\":{n},\"bins\":{bins},\"threads\":1,\"melem_per_s\":{rate:F2}}}"));
        }
    }

    /// <summary>Median over repeats of M elements/s; warmed up first; each repeat runs for ≥ ~20 ms (≥ 5 ms with --quick).</summary>
    private static double Measure(Action a, int n, bool quick)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < (quick ? 0.3 : 1.0)) a(); // past tiered compilation's promotion to tier 1 (0.4 s was not enough for the first op)
        sw.Restart();
        a();
        double once = Math.Max(sw.Elapsed.TotalSeconds, 1e-7);
        int reps = (int)Math.Clamp((quick ? 0.005 : 0.02) / once, 1, 100000);
        int samples = quick ? 5 : 9;
        var rates = new double[samples];
        for (int s = 0; s < samples; s++)
        {
            sw.Restart();
            for (int r = 0; r < reps; r++) a();
            rates[s] = (double)n * reps / sw.Elapsed.TotalSeconds / 1e6;
        }
        Array.Sort(rates);
        return rates[samples / 2];
    }
}
