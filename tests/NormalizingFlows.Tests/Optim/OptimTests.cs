using NormalizingFlows.Autograd;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Optim;

[Collection("Kernels")]
public class OptimTests
{
    // f(θ) = Σ aᵢ(θᵢ − cᵢ)², optimum θ = c
    private static readonly double[] A = [0.5, 2.0, 10.0, 1.0, 0.1];
    private static readonly double[] C = [1.0, -2.0, 0.5, 3.0, -0.25];

    private static Var<double> Quadratic(Parameter<double> theta)
        => Ops.Sum(Ops.Mul(Ops.Square(Ops.Sub(theta, Tensor<double>.From(C, C.Length))), Tensor<double>.From(A, A.Length)));

    [Fact]
    public void Adam_ReachesTheOptimumOfAConvexQuadratic()
    {
        var theta = new Parameter<double>(Tensor<double>.Zeros(C.Length), "theta");
        var opt = new Adam<double>([theta], learningRate: 0.1);
        var schedule = new CosineDecaySchedule(0.1, 2000, 1e-4);
        for (int step = 0; step < 2000; step++)
        {
            using var scope = TensorScope.Begin();
            opt.LearningRate = schedule.LearningRate(step);
            opt.ZeroGrad();
            Quadratic(theta).Backward();
            opt.Step();
        }
        for (int i = 0; i < C.Length; i++) Assert.True(Math.Abs(theta.Value[i] - C[i]) < 1e-3, $"θ[{i}] = {theta.Value[i]}, optimum {C[i]}");
        Assert.Equal(2000, opt.StepCount);
    }

    [Fact]
    public void Adam_FloatParameters_AlsoConverge()
    {
        var theta = new Parameter<float>(Tensor<float>.Zeros(33), "theta"); // longer than a vector + a tail
        var target = Tensor<float>.Empty(33);
        for (int i = 0; i < 33; i++) target[i] = MathF.Sin(i);
        var opt = new Adam<float>([theta], learningRate: 0.05);
        for (int step = 0; step < 600; step++)
        {
            using var scope = TensorScope.Begin();
            opt.LearningRate = 0.05 * (1 - step / 600.0) + 1e-4;
            opt.ZeroGrad();
            Ops.MseLoss(theta, target).Backward();
            opt.Step();
        }
        for (int i = 0; i < 33; i++) Assert.True(Math.Abs(theta.Value[i] - target[i]) < 2e-3, $"{i}: {theta.Value[i]} vs {target[i]}");
    }

    [Fact]
    public void Adam_FirstStep_MovesByTheLearningRateAgainstTheGradientSign()
    {
        var p = new Parameter<double>(Tensor<double>.From([1.0, -1.0, 2.0], 3));
        var opt = new Adam<double>([p], learningRate: 0.01);
        p.GradBuffer().Span[0] = 3; p.Grad!.Span[1] = -0.001; p.Grad.Span[2] = 0;
        opt.Step();
        Assert.Equal(1.0 - 0.01 * 3 / (3 + 1e-8), p.Value[0], 12);
        Assert.Equal(-1.0 + 0.01 * 0.001 / (0.001 + 1e-8), p.Value[1], 12);
        Assert.Equal(2.0, p.Value[2]);
    }

    [Fact]
    public void AdamW_DecaysDecoupled_AdamL2_GoesThroughTheMoments()
    {
        var p = new Parameter<double>(Tensor<double>.From([2.0, -4.0], 2));
        var opt = new AdamW<double>([p], learningRate: 0.1, weightDecay: 0.5);
        p.GradBuffer(); // zero gradient: only the decay acts
        for (int t = 0; t < 10; t++) opt.Step();
        double f = Math.Pow(1 - 0.1 * 0.5, 10);
        Assert.Equal(2.0 * f, p.Value[0], 12);
        Assert.Equal(-4.0 * f, p.Value[1], 12);

        var q = new Parameter<double>(Tensor<double>.From([2.0, -4.0], 2));
        var adam = new Adam<double>([q], learningRate: 0.1, weightDecay: 0.5);
        q.GradBuffer();
        adam.Step();
        Assert.Equal(2.0 - 0.1, q.Value[0], 6);   // g' = wd·θ normalised by Adam: a step of ≈ lr
        Assert.Equal(-4.0 + 0.1, q.Value[1], 6);
    }

    [Fact]
    public void Adam_ThreadedUpdateOfLargeParametersMatchesTheScalarFormulaBitForBit()
    {
        // 3 parameters, 70 001 elements in all (a threaded update splits them mid-parameter), against the formula
        // evaluated element by element in float, for several steps.
        float[][] Run(int threads)
        {
            int saved = NormalizingFlows.Tensors.Kernels.WorkerPool.MaxThreads;
            NormalizingFlows.Tensors.Kernels.WorkerPool.MaxThreads = threads;
            try
            {
                var rng = new Rng(5);
                var ps = new[] { 40_000, 1, 30_000 }.Select((n, i) => new Parameter<float>(rng.Normal<float>(n), $"p{i}")).ToArray();
                var adam = new Adam<float>(ps, 1e-2, weightDecay: 0.01);
                for (int step = 0; step < 3; step++)
                {
                    foreach (var p in ps)
                    {
                        var g = p.GradBuffer().Span;
                        for (int j = 0; j < g.Length; j++) g[j] = (float)Math.Sin(0.37 * j + step) * (1 + j % 7);
                    }
                    adam.Step();
                }
                return ps.Select(p => p.Value.ToArray()).ToArray();
            }
            finally { NormalizingFlows.Tensors.Kernels.WorkerPool.MaxThreads = saved; }
        }
        var one = Run(1);
        var two = Run(2);
        for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], two[i]);
        // the scalar formula for a few elements
        var r2 = new Rng(5);
        var x0 = new[] { 40_000, 1, 30_000 }.Select(n => r2.Normal<float>(n).ToArray()).ToArray();
        foreach (var (pi, j) in new[] { (0, 0), (0, 39_999), (1, 0), (2, 12_345), (2, 29_999) })
        {
            float x = x0[pi][j], m = 0, v = 0;
            for (int step = 0; step < 3; step++)
            {
                float g = (float)Math.Sin(0.37 * j + step) * (1 + j % 7) + 0.01f * x;
                m = 0.9f * m + (1 - 0.9f) * g;
                v = 0.999f * v + (1 - 0.999f) * g * g;
                double bc1 = 1 - Math.Pow(0.9, step + 1), bc2 = 1 - Math.Pow(0.999, step + 1);
                x = x - (float)(1e-2 / bc1) * m / (MathF.Sqrt(v) * (float)(1 / Math.Sqrt(bc2)) + 1e-8f);
            }
            Assert.Equal(x, one[pi][j], 1e-6f);
        }
    }

    [Fact]
    public void Adam_SkipsFrozenParametersAndThoseWithoutGradient()
    {
        var a = new Parameter<double>(Tensor<double>.Full(1.0, 2));
        var b = new Parameter<double>(Tensor<double>.Full(1.0, 2)) { Trainable = false };
        var c = new Parameter<double>(Tensor<double>.Full(1.0, 2));
        var opt = new Adam<double>([a, b, c]);
        a.GradBuffer().Fill(1); b.GradBuffer().Fill(1);
        opt.Step();
        Assert.NotEqual(1.0, a.Value[0]);
        Assert.Equal(1.0, b.Value[0]);
        Assert.Equal(1.0, c.Value[0]);
        var state = opt.ExportState();
        Assert.Equal(1.0, state["0.step"][0]);
        Assert.Equal(0.0, state["1.step"][0]);
        Assert.Equal(0.0, state["2.step"][0]);
        Assert.Throws<ArgumentException>(() => new Adam<double>([a, a]));
    }

    [Fact]
    public void Adam_StateExportImport_ContinuesIdentically()
    {
        var rng = new Rng(4);
        var p1 = new Parameter<double>(rng.Normal<double>(3, 2));
        var p2 = new Parameter<double>(p1.Value.Clone());
        var o1 = new Adam<double>([p1], learningRate: 0.05);
        var o2 = new Adam<double>([p2], learningRate: 0.05);
        void Step(Parameter<double> p, Optimizer<double> o) { o.ZeroGrad(); Ops.Sum(Ops.Square(p.Sin2())).Backward(); o.Step(); }
        for (int i = 0; i < 7; i++) Step(p1, o1);
        p1.Value.CopyTo(p2.Value);
        o2.ImportState(o1.ExportState());
        Assert.Equal(7, o2.StepCount);
        for (int i = 0; i < 5; i++) { Step(p1, o1); Step(p2, o2); }
        Assert.Equal(p1.Value.ToArray(), p2.Value.ToArray());

        var bad = o1.ExportState();
        bad["0.exp_avg"] = Tensor<double>.Zeros(6);
        Assert.Contains("'0.exp_avg'", Assert.Throws<ArgumentException>(() => o2.ImportState(bad)).Message);
        bad = o1.ExportState();
        bad.Remove("0.exp_avg_sq");
        Assert.Contains("'0.exp_avg_sq'", Assert.Throws<KeyNotFoundException>(() => o2.ImportState(bad)).Message);
    }

    [Fact]
    public void ClipGlobalNorm_ScalesAboveTheLimit_ReturnsThePreClipNorm()
    {
        var a = new Parameter<double>(Tensor<double>.Zeros(1));
        var b = new Parameter<double>(Tensor<double>.Zeros(1));
        var frozen = new Parameter<double>(Tensor<double>.Zeros(1)) { Trainable = false };
        a.GradBuffer()[0] = 3; b.GradBuffer()[0] = 4; frozen.GradBuffer()[0] = 100;
        double norm = GradientClipping.ClipGlobalNorm([a, b, frozen], 1.0);
        Assert.Equal(5.0, norm, 12);
        Assert.Equal(0.6, a.Grad![0], 6);
        Assert.Equal(0.8, b.Grad![0], 6);
        Assert.Equal(100, frozen.Grad![0]);
        Assert.Equal(1.0, GradientClipping.ClipGlobalNorm([a, b], 2.0), 5); // below the limit: untouched
        Assert.Equal(0.6, a.Grad![0], 6);
        var none = new Parameter<double>(Tensor<double>.Zeros(2));
        Assert.Equal(0.0, GradientClipping.ClipGlobalNorm([none], 1.0));

        b.Grad![0] = double.NaN;
        Assert.True(double.IsNaN(GradientClipping.ClipGlobalNorm([a, b], 1.0)));
        Assert.Equal(0.6, a.Grad![0], 6);
        b.Grad![0] = double.PositiveInfinity;
        Assert.True(double.IsPositiveInfinity(GradientClipping.ClipGlobalNorm([a, b], 1.0)));
        Assert.Equal(0.6, a.Grad![0], 6);
    }

    [Fact]
    public void Schedules_HaveTheirValuesAtKnownSteps()
    {
        Assert.Equal(0.3, new ConstantSchedule(0.3).LearningRate(12345));

        var cos = new CosineDecaySchedule(1.0, 100, 0.1);
        Assert.Equal(1.0, cos.LearningRate(0), 12);
        Assert.Equal(0.55, cos.LearningRate(50), 12);
        Assert.Equal(0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), cos.LearningRate(25), 12);
        Assert.Equal(0.1, cos.LearningRate(100), 12);
        Assert.Equal(0.1, cos.LearningRate(1000), 12);

        var step = new StepDecaySchedule(1.0, 10, 0.5);
        Assert.Equal(1.0, step.LearningRate(0));
        Assert.Equal(1.0, step.LearningRate(9));
        Assert.Equal(0.5, step.LearningRate(10));
        Assert.Equal(0.25, step.LearningRate(29));
        Assert.Equal(0.125, step.LearningRate(30));

        var warm = new LinearWarmupSchedule(new ConstantSchedule(2.0), 4);
        Assert.Equal(0.5, warm.LearningRate(0));
        Assert.Equal(1.5, warm.LearningRate(2));
        Assert.Equal(2.0, warm.LearningRate(3));
        Assert.Equal(2.0, warm.LearningRate(4));
        var warmCos = new LinearWarmupSchedule(cos, 10);
        Assert.Equal(cos.LearningRate(4) * 0.5, warmCos.LearningRate(4), 12);
        Assert.Equal(cos.LearningRate(50), warmCos.LearningRate(50), 12);
    }
}

internal static class OpsTestExtensions
{
    /// <summary>A smooth non-quadratic map for optimizer trajectories: sin(x)·2 + x.</summary>
    public static Var<double> Sin2(this Var<double> x) => Ops.Add(Ops.ScaleShift(Ops.Tanh(x), 2.0), x);
}
