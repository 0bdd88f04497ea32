using NormalizingFlows.Autograd;
using NormalizingFlows.Cuda;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.GpuCheck;

/// <summary>
/// The device flows against the library's CPU path with the same weights, D = 18: log p, the sampling direction
/// (within float rounding of z amplified by the inverse's slope), every weight and bias gradient of one step against
/// autograd's (1e−4 of each tensor's largest), and 20 training steps (losses to 1e−3 relative; final weights to 4·lr:
/// Adam normalises each gradient, so rounding differences in tiny gradients can move a weight by up to ~lr per step)
/// on the same batches. The conditional checks (suffix "_conditional") run the same on the flows conditional on C = 4
/// context features, their training steps with per-event weights (MaximumLikelihoodLoss's weighted loss); the
/// embedded checks ("_embedded_mlp", "_embedded_set") the same with a trainable context embedding in front of the
/// conditioners (an MLP of 8 context values; a deep-sets embedding of 4 elements of 3 features, some absent), trained
/// with the flow (its gradients are among the first step's). One JSON line per check; each check runs on its own
/// (<see cref="Outcome"/>).
/// </summary>
internal static class Checks
{
    private const int D = 18, C = 4, RawMlp = 8, F = 3, K = 4;

    /// <summary>A check's context: none, C features, or the raw input of an embedding (mlp, set) to C features.</summary>
    private sealed record Variant(string Suffix, int Context, string? Embedding);

    private static readonly Variant[] Variants = [new("", 0, null), new("_conditional", C, null), new("_embedded_mlp", RawMlp, "mlp"), new("_embedded_set", K * (F + 1), "set")];

    public static void Run(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        var (rows, steps) = Sizes(o);
        foreach (var model in o.Models) CheckModel(device, outcome, model, Variants, rows, steps);
        RunFamilies(device, o, outcome);
        IflowChecks.Run(device, o, outcome);
    }

    /// <summary>
    /// The other flow families (<see cref="CheckOptions.Families"/>): unconditional and conditional where the family
    /// has a context (their conditioners read it as the bench's do); "flow_matching" trains the "cnf" flow by flow
    /// matching (<see cref="FlowMatchingChecks"/>); "nsf_c_dropout" is scored and sampled only (its training masks are the device's own).
    /// </summary>
    public static void RunFamilies(ComputeDevice device, CheckOptions o, Outcome outcome)
    {
        // half the bench models' sizes: the families are many, and their host references (UMNN's quadrature, the
        // continuous flow's ODE solves through training) are the slow side on the GPU machine
        var (rows, steps) = o.Quick ? Sizes(o) : (256, 10);
        foreach (var model in o.Families ?? BenchFlows.Families)
        {
            if (model == "flow_matching")
                foreach (var context in Variants[..2])
                    outcome.Run(model, "check", Name("train", context), () => FlowMatchingChecks.Training(device, rows, steps, context.Context));
            else if (model == "nsf_c_dropout")
                foreach (var context in Variants[..2])
                {
                    outcome.Run(model, "check", Name("log_prob", context), () => LogProb(model, device, rows, context));
                    outcome.Run(model, "check", Name("inverse", context), () => Inverse(model, device, Math.Min(rows, 128), context));
                }
            else CheckModel(device, outcome, model, BenchFlows.Unconditional(model) ? Variants[..1] : Variants[..2], rows, steps);
        }
    }

    private static (int Rows, int Steps) Sizes(CheckOptions o) => o.Quick ? (16, 5) : (512, 20);

    private static void CheckModel(ComputeDevice device, Outcome outcome, string model, IEnumerable<Variant> variants, int rows, int steps)
    {
        foreach (var context in variants)
        {
            outcome.Run(model, "check", Name("log_prob", context), () => LogProb(model, device, rows, context));
            outcome.Run(model, "check", Name("inverse", context), () => Inverse(model, device, Math.Min(rows, 128), context));
            outcome.Run(model, "check", Name("train", context), () => Training(model, device, rows, steps, context));
        }
    }

    private static Flow<float> Perturbed(string model, Variant v)
    {
        var rng = new Rng(1);
        var flow = BenchFlows.Build(model, D, rng, v.Embedding is null ? v.Context : C);
        if (v.Embedding is not null)
        {
            ContextEmbedding<float> map = v.Embedding == "mlp"
                ? new MlpEmbedding<float>(new Mlp<float>(RawMlp, [64], C, rng))
                : new SetEmbedding<float>(F, K, hidden: 32, layers: 2, outFeatures: C, rng);
            if (map is SetEmbedding<float> set) set.SetStandardization([0.5, -0.2, 1.0], [1.5, 0.7, 2.0]);
            flow = new Flow<float>(new EmbeddedContextTransform<float>(flow.Transform, map, map.InputFeatures), flow.Base);
        }
        BenchFlows.Perturb(flow, 0.05, 2);
        return flow;
    }

    /// <summary>
    /// A context of the variant drawn from <paramref name="seed"/> (null for an unconditional check): normal values, or
    /// for a set embedding K elements of F features with element k ≥ 1 of every (k + r)-th row absent, in the flagged layout.
    /// </summary>
    private static Tensor<float>? Context(int rows, Variant v, long seed)
    {
        if (v.Context == 0) return null;
        if (v.Embedding != "set") return new Rng(seed).Normal<float>(rows, v.Context);
        var sets = new Rng(seed).Normal<float>(rows, K * F);
        var s = sets.Span;
        for (int r = 0; r < rows; r++)
            for (int e = 1; e < K; e++)
                if ((r + e) % 3 == 0) s.Slice((r * K + e) * F, F).Fill(float.NaN);
        return SetEmbedding<float>.WithPresenceFlags(sets, F);
    }

    private static Var<float>? Var(Tensor<float>? t) => t is null ? null : new Var<float>(t);

    private static string Name(string check, Variant v) => check + v.Suffix;

    private static bool LogProb(string model, ComputeDevice device, int rows, Variant context)
    {
        var flow = Perturbed(model, context);
        flow.Eval(); // scoring: a Glow's ActNorms keep their weights (in training mode the CPU's first forward would initialise them from the batch)
        using var dflow = DeviceFlow.Compile(flow, device);
        var x = new Rng(3).Normal<float>(rows, D);
        var c = Context(rows, context, 5);
        float[] cpu;
        using (GradMode.Disable()) cpu = flow.LogProb(new Var<float>(x), Var(c)).Value.ToArray();
        return Report(model, Name("log_prob", context), cpu, dflow.LogProb(x, c), i => 2e-3 + 1e-4 * Math.Abs(cpu[i]), "2e-3 + 1e-4·|cpu|", device);
    }

    private static bool Inverse(string model, ComputeDevice device, int rows, Variant context)
    {
        var flow = Perturbed(model, context);
        flow.Eval(); // sampling: batch norm (in a ResidualNet's blocks) uses its running averages, as the device does
        using var dflow = DeviceFlow.Compile(flow, device);
        var z = new Rng(4).Normal<float>(rows, D);
        var c = Context(rows, context, 6);
        float[] cpuX, ld;
        using (GradMode.Disable())
        {
            var inv = flow.Transform.Inverse(new Var<float>(z), Var(c));
            (cpuX, ld) = (inv.X.Value.ToArray(), inv.LogAbsDet.Value.ToArray());
        }
        using var dz = DeviceTensor.Upload(device, z);
        using var dc = c is null ? null : DeviceTensor.Upload(device, c);
        using var dx = DeviceTensor.Zeros(device, rows, D);
        dflow.Inverse(dz, dx, dc);
        // DeviceOpsTests' rule for the spline inverse: a few float ulps of the input, amplified by the inverse's slope
        // (here the row's |det ∂x/∂z|, at least 1), on top of the forward comparison's tolerance
        var zs = z.ReadOnlySpan.ToArray();
        double Tolerance(int i) => 1e-3 + 8 * 1.2e-7 * Math.Max(Math.Abs(zs[i]), 1) * Math.Exp(Math.Max(ld[i / D], 0));
        return Report(model, Name("inverse", context), cpuX, dx.Download().ToArray(), Tolerance, "1e-3 + 8·1.2e-7·max(|z|, 1)·max(|det ∂x/∂z|, 1)", device);
    }

    private static bool Training(string model, ComputeDevice device, int rows, int steps, Variant context)
    {
        const double lr = 1e-3;
        var cpu = Perturbed(model, context);
        var gpu = Perturbed(model, context);
        double eps = BenchFlows.AdamEps(model);
        var adam = new Adam<float>(cpu.Parameters(), learningRate: lr, eps: eps);
        using var dflow = DeviceFlow.Compile(gpu, device);
        dflow.Eps = eps;
        var cpuLoss = new float[steps]; var gpuLoss = new float[steps];
        bool ok = true;
        for (int step = 0; step < steps; step++)
        {
            var batch = new Rng(100 + step).Normal<float>(rows, D);
            var c = Context(rows, context, 200 + step);
            adam.ZeroGrad();
            var logp = cpu.LogProb(new Var<float>(batch), Var(c));
            // conditional: weighted events too, w in [0.2, 1.8): the device's −(1/B) Σ w log p (MaximumLikelihoodLoss's with w̄ = 1)
            var w = context.Context == 0 ? null : new Rng(300 + step).Uniform<float>([rows], 0.2, 1.8);
            var loss = w is null ? Ops.Neg(Ops.Mean(logp)) : Ops.ScaleShift(Ops.Sum(Ops.Mul(logp, new Var<float>(w))), -1.0 / rows);
            loss.Backward();
            adam.Step();
            cpuLoss[step] = loss.Value.ReadOnlySpan[0];
            using var db = DeviceTensor.Upload(device, batch);
            using var dc = c is null ? null : DeviceTensor.Upload(device, c);
            using var dw = w is null ? null : DeviceTensor.Upload(device, w);
            gpuLoss[step] = dflow.TrainStep(db, lr, readLoss: true, dc, dw)!.Value;
            if (step == 0) ok &= Gradients(model, Name("gradients_step_1", context), cpu, dflow, device);
        }
        ok &= Report(model, Name($"train_loss_{steps}_steps", context), cpuLoss, gpuLoss, i => 1e-4 + 1e-3 * Math.Abs(cpuLoss[i]), "1e-4 + 1e-3·|cpu|", device);
        dflow.CopyTo(gpu);
        var a = cpu.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var b = gpu.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        return ok & Report(model, Name($"train_weights_{steps}_steps", context), a, b, _ => 4 * lr, "4·lr", device);
    }

    /// <summary>
    /// The first step's weight and bias gradients of every device linear layer, and of every parameter of a layer's own
    /// (ActNorm, LU, planar, radial, batch norm, UMNN's integrand), against the CPU parameters' .Grad: within 1e−4
    /// relative plus 1e−4 of the tensor's largest (Adam's first step, −lr·sign(g), hides a scaled gradient).
    /// </summary>
    internal static bool Gradients(string model, string check, Flow<float> cpu, DeviceFlow dflow, ComputeDevice device)
    {
        var tensors = new List<(float[] Cpu, float[] Device, string Name)>();
        int l = 0;
        foreach (var (host, dev) in dflow.Pairs(cpu))
        {
            tensors.Add((host.Weight.Grad!.ToArray(), dev.GW.Download().ToArray(), $"linear {l} weight"));
            tensors.Add((host.Bias!.Grad!.ToArray(), dev.GB.Download().ToArray(), $"linear {l++} bias"));
        }
        int k = 0;
        foreach (var (host, dev) in dflow.ParameterPairs(cpu)) tensors.Add((host.Grad!.ToArray(), dev.Grad.Download().ToArray(), $"parameter {k++} [{host.Value.ShapeString}]"));
        static double Largest(float[] v) => v.Length == 0 ? 0 : v.Max(x => Math.Abs((double)x));
        double global = tensors.Count == 0 ? 0 : tensors.Max(t => Largest(t.Cpu));
        var expected = new List<float>(); var actual = new List<float>(); var tolerance = new List<double>();
        var ends = new List<(int End, string Name)>();
        foreach (var (e, a, name) in tensors)
        {
            double scale = Largest(e);
            expected.AddRange(e);
            actual.AddRange(a);
            // a tensor that is 0 in exact arithmetic (a bias a training-mode batch norm removes) holds float noise on
            // each side: judged against the flow's largest gradient instead of its own
            tolerance.AddRange(scale < 1e-6 * global ? e.Select(_ => 1e-5 * global) : e.Select(v => 1e-4 * Math.Abs(v) + 1e-4 * scale));
            ends.Add((expected.Count, name));
        }
        string Where(int i) => ends.First(t => i < t.End).Name;
        return Report(model, check, expected.ToArray(), actual.ToArray(), i => tolerance[i],
            "1e-4·|cpu| + 1e-4·max|cpu| per tensor; a tensor under 1e-6 of the flow's largest gradient (0 in exact arithmetic): 1e-5 of that", device, Where);
    }

    /// <summary>One JSON line: pass when |expected − actual| ≤ tolerance(i) for every element.</summary>
    internal static bool Report(string model, string check, float[] expected, float[] actual, Func<int, double> tolerance, string rule, ComputeDevice device, Func<int, string>? where = null)
    {
        double maxAbs = 0, worst = 0;
        int worstAt = -1;
        bool pass = expected.Length == actual.Length;
        for (int i = 0; i < Math.Min(expected.Length, actual.Length); i++)
        {
            double diff = Math.Abs((double)expected[i] - actual[i]);
            maxAbs = Math.Max(maxAbs, diff);
            if (!(diff <= tolerance(i)))
            {
                pass = false;
                double over = double.IsNaN(diff) ? double.PositiveInfinity : diff / tolerance(i);
                if (worstAt < 0 || over > worst) (worst, worstAt) = (over, i);
            }
        }
        if (pass) Json.Line(("check", check), ("model", model), ("n", expected.Length), ("max_abs_diff", maxAbs), ("tolerance", rule), ("pass", pass), ("device", device.Name));
        else if (worstAt < 0) Json.Line(("check", check), ("model", model), ("n", expected.Length), ("n_device", actual.Length), ("tolerance", rule), ("pass", pass), ("device", device.Name));
        else Json.Line(("check", check), ("model", model), ("n", expected.Length), ("max_abs_diff", maxAbs), ("tolerance", rule), ("pass", pass),
            ("worst_index", worstAt), ("worst_in", where?.Invoke(worstAt) ?? ""), ("worst_cpu", (double)expected[worstAt]), ("worst_device", (double)actual[worstAt]), ("worst_tolerance", tolerance(worstAt)), ("device", device.Name));
        return pass;
    }
}
