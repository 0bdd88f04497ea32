using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tests.Transforms;

namespace NormalizingFlows.Tests.Data;

public class PreprocessingTests
{
    private const double Log2Pi = 1.8378770664093453;

    private static Table Column(string name, Func<Rng, double> draw, int rows, int seed)
    {
        var r = new Rng(seed);
        var v = new double[rows];
        for (int i = 0; i < rows; i++) v[i] = draw(r);
        return new Table([name], v, rows);
    }

    private static (double Mean, double Std) Moments(IEnumerable<double> values)
    {
        var a = values.ToArray();
        double m = a.Average();
        return (m, Math.Sqrt(a.Sum(v => (v - m) * (v - m)) / a.Length));
    }

    /// <summary>pipeline + N(0, 1): the density of the original units is known in closed form.</summary>
    private static Flow<double> PipelineFlow(PreprocessingPipeline<double> p) => new(p, new StandardNormal<double>(p.Features));

    private static double[] LogProb(Flow<double> flow, params double[] xs)
    {
        using var _ = GradMode.Disable();
        return flow.LogProb(new Var<double>(Tensor<double>.From(xs, xs.Length, 1))).Value.ToArray();
    }

    [Fact]
    public void LogColumnGivesTheLogNormalDensityInOriginalUnits()
    {
        var table = Column("m", r => Math.Exp(0.3 + 0.7 * r.NextNormal()), 2000, 1);
        var p = PreprocessingPipeline.Fit<double>(table, PreprocessingSpec.Uniform(["m"], PreprocessingKind.Log));
        var (mu, sigma) = Moments(table.Values.Select(v => Math.Log(v)));
        var flow = PipelineFlow(p);
        double[] xs = [0.05, 0.5, 1.0, 2.7, 9.0];
        var lp = LogProb(flow, xs);
        for (int i = 0; i < xs.Length; i++)
        {
            double z = (Math.Log(xs[i]) - mu) / sigma;
            double expected = -0.5 * z * z - 0.5 * Log2Pi - Math.Log(sigma) - Math.Log(xs[i]);
            Assert.Equal(expected, lp[i], 10);
        }
    }

    [Fact]
    public void MinMaxLogitColumnGivesTheAnalyticDensityAndRangesAreTheTrainingRange()
    {
        var table = Column("u", r => 2 + 3 * r.NextDouble(), 3000, 2);
        var spec = new PreprocessingSpec([new ColumnPreprocessing("u", PreprocessingKind.MinMaxLogit) { Margin = 0.02 }]);
        var p = PreprocessingPipeline.Fit<double>(table, spec);
        double min = table.Values.Min(), max = table.Values.Max();
        Assert.Equal(min, p.TrainingMin[0]);
        Assert.Equal(max, p.TrainingMax[0]);
        double low = min - 0.02 * (max - min), high = max + 0.02 * (max - min);
        var logits = table.Values.Select(x => { double u = (x - low) / (high - low); return Math.Log(u / (1 - u)); });
        var (m, s) = Moments(logits);
        var flow = PipelineFlow(p);
        double[] xs = [low + 1e-6, 2.0, 3.3, 4.99, high - 1e-6];
        var lp = LogProb(flow, xs);
        for (int i = 0; i < xs.Length; i++)
        {
            double u = (xs[i] - low) / (high - low);
            double z = (Math.Log(u / (1 - u)) - m) / s;
            double expected = -0.5 * z * z - 0.5 * Log2Pi - Math.Log(s) - Math.Log(u * (1 - u)) - Math.Log(high - low);
            Assert.True(Math.Abs(expected - lp[i]) <= 1e-8 * Math.Max(1, Math.Abs(expected)), $"x = {xs[i]}: {lp[i]} vs analytic {expected}");
        }
    }

    [Theory]
    [InlineData(PreprocessingKind.MinMaxLogit)]
    [InlineData(PreprocessingKind.Log)]
    [InlineData(PreprocessingKind.Standardize)]
    public void OneDimensionalDensityInOriginalUnitsIntegratesToOne(PreprocessingKind kind)
    {
        // a pT-like column: threshold at 20, falling spectrum
        var table = Column("pt", r => 20 - 30 * Math.Log(1 - r.NextDouble()), 3000, 3);
        var p = PreprocessingPipeline.Fit<double>(table, PreprocessingSpec.Uniform(["pt"], kind));
        var flow = PipelineFlow(p);
        // integrate in t = log(x) for the log column, else over a range covering everything
        double total;
        if (kind == PreprocessingKind.Log)
            total = Simpson(t => Math.Exp(t) * Math.Exp(LogProb(flow, Math.Exp(t))[0]), Math.Log(1e-3), Math.Log(1e5), 20000);
        else if (kind == PreprocessingKind.MinMaxLogit)
        {
            double lo = p.Guard!.Lower[0], hi = p.Guard.Upper[0];
            // substitute x = lo + (hi − lo)·σ(s) to resolve both edges
            total = Simpson(sv =>
            {
                double sg = 1 / (1 + Math.Exp(-sv));
                double x = lo + (hi - lo) * sg;
                if (!(x > lo && x < hi)) return 0;
                return Math.Exp(LogProb(flow, x)[0]) * (hi - lo) * sg * (1 - sg);
            }, -40, 40, 20000);
        }
        else total = Simpson(x => Math.Exp(LogProb(flow, x)[0]), -400, 600, 20000);
        Assert.True(Math.Abs(total - 1) < 1e-4, $"{kind}: ∫ p(x) dx = {total}");
    }

    private static double Simpson(Func<double, double> f, double a, double b, int n)
    {
        double h = (b - a) / n, s = f(a) + f(b);
        for (int i = 1; i < n; i++) s += (i % 2 == 1 ? 4 : 2) * f(a + i * h);
        return s * h / 3;
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void AutoSpecRecognisesTypicalColumns(int seed)
    {
        var r = new Rng(seed);
        int n = 5000;
        string[] names = ["count", "pt", "cut_gauss", "lognormal", "gauss", "uniform", "pile"];
        var v = new double[n * names.Length];
        for (int i = 0; i < n; i++)
        {
            int k = i * names.Length;
            v[k + 0] = Math.Floor(-3 * Math.Log(1 - r.NextDouble()));             // counts
            v[k + 1] = 20 - 30 * Math.Log(1 - r.NextDouble());                       // pT above a 20 GeV threshold
            double g; do g = r.NextNormal(); while (g < 0.5); v[k + 2] = 1.5 * g;    // Gaussian with a hard cut
            v[k + 3] = Math.Exp(1.0 + 0.9 * r.NextNormal());                         // log-normal
            v[k + 4] = 5 + 2 * r.NextNormal();                                       // Gaussian
            v[k + 5] = 10 * r.NextDouble() + 0.5;                                    // uniform
            v[k + 6] = Math.Max(0.25, r.NextNormal());                               // values piled at a clip
        }
        var spec = PreprocessingSpec.Auto(new Table(names, v, n));
        var kinds = spec.Columns.Select(c => c.Kind).ToArray();
        Assert.Equal(PreprocessingKind.Dequantize, kinds[0]);
        // an edge at the minimum only: bounded below (just under the edge), open above (issue #14 item 1)
        Assert.Equal(PreprocessingKind.Log, kinds[1]);
        Assert.InRange(spec.Columns[1].Shift, 0.0, 20.0);
        Assert.Equal(PreprocessingKind.Log, kinds[2]);
        Assert.InRange(spec.Columns[2].Shift, 0.0, 0.75);
        Assert.Equal(PreprocessingKind.Log, kinds[3]);
        Assert.Equal(0.0, spec.Columns[3].Shift);
        Assert.Equal(PreprocessingKind.Standardize, kinds[4]);
        Assert.Equal(PreprocessingKind.MinMaxLogit, kinds[5]);
        Assert.Equal(PreprocessingKind.Log, kinds[6]);
        Assert.InRange(spec.Columns[6].Shift, -1.0, 0.25);
        Assert.All(spec.Columns, c => Assert.False(string.IsNullOrEmpty(c.Reason)));
        // and the auto spec fits and round-trips through JSON
        var back = PreprocessingSpec.FromJson(spec.ToJson());
        Assert.Equal(spec.ToJson(), back.ToJson());
        PreprocessingPipeline.Fit<float>(new Table(names, v, n), back);
    }

    [Fact]
    public void SpecJsonNamesWhatIsWrong()
    {
        Assert.Contains("unknown preprocessing kind 'square'",
            Assert.Throws<FormatException>(() => PreprocessingSpec.FromJson("""{"version":1,"columns":[{"name":"a","kind":"square"}]}""")).Message);
        Assert.Contains("version 7", Assert.Throws<FormatException>(() => PreprocessingSpec.FromJson("""{"version":7,"columns":[]}""")).Message);
        Assert.Contains("not valid JSON", Assert.Throws<FormatException>(() => PreprocessingSpec.FromJson("{")).Message);
        Assert.Contains("margin", Assert.Throws<FormatException>(() => PreprocessingSpec.FromJson("""{"version":1,"columns":[{"name":"a","kind":"minmax-logit","margin":0}]}""")).Message);
        var spec = new PreprocessingSpec([new ColumnPreprocessing("a", PreprocessingKind.Log) { Shift = -2 }, new ColumnPreprocessing("b", PreprocessingKind.None)]);
        var back = PreprocessingSpec.FromJson(spec.ToJson());
        Assert.Equal(-2, back.Columns[0].Shift);
        Assert.Equal(["log", "standardize"], back.Columns[0].Chain);
    }

    [Fact]
    public void FitExplainsBadInputs()
    {
        var table = Column("m", r => r.NextNormal(), 100, 4);
        Assert.Contains("shift", Assert.Throws<ArgumentException>(() =>
            PreprocessingPipeline.Fit<double>(table, PreprocessingSpec.Uniform(["m"], PreprocessingKind.Log))).Message);
        Assert.Contains("'other'", Assert.Throws<ArgumentException>(() =>
            PreprocessingPipeline.Fit<double>(table, PreprocessingSpec.Uniform(["other"], PreprocessingKind.Standardize))).Message);
    }

    private static FlowModel<T> MixedModel<T>(int seed = 5) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var table = TransformCatalog.PreprocessingTable(new Rng(seed), 1000);
        var p = PreprocessingPipeline.Fit<T>(table, TransformCatalog.MixedSpec);
        return new FlowModel<T>(new FlowSpec { Builder = "nsf", Features = 5, Layers = 2, Hidden = 8, Seed = seed, DType = FlowSpec.DTypeOf<T>() }, p);
    }

    private static void Perturb<T>(FlowModel<T> model, int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var r = new Rng(seed);
        foreach (var prm in model.Flow.Parameters())
        {
            var s = prm.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += T.CreateTruncating(0.2 * r.NextNormal());
        }
    }

    [Fact]
    public void SamplesRespectTrainingRangesAndIntegerColumns()
    {
        var model = MixedModel<double>();
        Perturb(model, 6);
        var pre = model.Preprocessing!;
        var x = model.Sample(3000, new Rng(7), clampToTrainingRange: true);
        for (int r = 0; r < x.Dim(0); r++)
            for (int j = 0; j < 5; j++)
            {
                Assert.InRange(x[r, j], pre.TrainingMin[j], pre.TrainingMax[j]);
                if (j == 3) Assert.Equal(Math.Floor(x[r, j]), x[r, j]);
            }
        // without clamping, the minmax-logit column still stays inside the widened range and the log column positive
        var raw = model.Sample(3000, new Rng(7), clampToTrainingRange: false);
        for (int r = 0; r < raw.Dim(0); r++)
        {
            Assert.InRange(raw[r, 0], pre.Guard!.Lower[0], pre.Guard.Upper[0]);
            Assert.True(raw[r, 1] > 0);
        }
    }

    [Fact]
    public void PointsOutsideTheTrainingRangeHaveLogProbMinusInfinity()
    {
        foreach (bool useFloat in new[] { false, true })
        {
            double[] lp = useFloat ? OutsideLogProb<float>() : OutsideLogProb<double>();
            Assert.True(double.IsFinite(lp[0]), $"inside row: {lp[0]}");
            for (int i = 1; i < lp.Length; i++)
                Assert.True(double.IsNegativeInfinity(lp[i]), $"row {i} ({(useFloat ? "float" : "double")}): {lp[i]}");
        }
    }

    private static double[] OutsideLogProb<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var model = MixedModel<T>();
        Perturb(model, 8);
        double[] rows =
        [
            0.5, 1.0, 3.0, 2.0, 0.0,     // inside
            5.0, 1.0, 3.0, 2.0, 0.0,     // minmax column far above its range
            -3.0, 1.0, 3.0, 2.0, 0.0,    // … far below
            0.5, 0.0, 3.0, 2.0, 0.0,     // log column at its shift
            0.5, -2.0, 3.0, 2.0, 0.0,    // log column below its shift
        ];
        var x = Tensor<T>.FromDoubles(rows, 5, 5);
        var lp = model.LogProb(x);
        // the flow itself (as a trainer would call it), with gradients recorded, gives the same and no exception
        model.Flow.Eval();
        var v = model.Flow.LogProb(new Var<T>(x, requiresGrad: true)).Value.ToDoubleArray();
        Assert.Equal(lp, v);
        return lp;
    }

    [Fact]
    public void GradientsStayFiniteWhenABatchHasOutsideRows()
    {
        var model = MixedModel<double>();
        var x = new Var<double>(Tensor<double>.FromDoubles([0.5, 1.0, 3.0, 2.0, 0.0, 9.0, 1.0, 3.0, 2.0, 0.0], 2, 5), requiresGrad: true);
        var lp = model.Flow.LogProb(x);
        // backward through the inside row only (the outside row's −∞ is a constant)
        Ops.Sum(Ops.Where([true, false], lp, Tensor<double>.Zeros(2))).Backward();
        Assert.All(x.Grad!.ToArray(), g => Assert.True(double.IsFinite(g)));
        Assert.All(x.Grad!.ToArray().Skip(5), g => Assert.Equal(0.0, g));
        Assert.All(model.Flow.Parameters(), p => Assert.All(p.Grad?.ToArray() ?? [], g => Assert.True(double.IsFinite(g))));
    }

    [Fact]
    public void DequantizeAddsNoiseBelowTheNextIntegerAndFloorsBack()
    {
        var x = Tensor<float>.FromDoubles([0, 1.5, 16777215, -2, 3, 7], 3, 2);
        var orig = x.ToArray();
        Dequantize.AddNoise(x, [0], new Rng(9));
        for (int r = 0; r < 3; r++)
        {
            Assert.True(x[r, 0] >= orig[r * 2] && x[r, 0] < orig[r * 2] + 1, $"{x[r, 0]} from {orig[r * 2]}");
            Assert.Equal(orig[r * 2 + 1], x[r, 1]);
        }
        Dequantize.Floor(x, [0]);
        Assert.Equal(orig, x.ToArray());
        var table = new Table(["a", "b", "c"], [1, 1.5, 2, 2, 2.5, 2], 2);
        Assert.True(Dequantize.IsIntegerValued(table, 0));
        Assert.False(Dequantize.IsIntegerValued(table, 1));
        Assert.False(Dequantize.IsIntegerValued(table, 2)); // constant
    }

    [Fact]
    public void DequantizedColumnProbabilitiesSumToOne()
    {
        // P(k) = ∫_k^{k+1} p(u) du over the integers of the training range sums to ≈ 1 for pipeline + N(0, 1)
        var table = Column("n", r => Math.Floor(4 * r.NextDouble()), 2000, 10);
        var p = PreprocessingPipeline.Fit<double>(table, PreprocessingSpec.Uniform(["n"], PreprocessingKind.Dequantize));
        var flow = PipelineFlow(p);
        double total = Simpson(u => Math.Exp(LogProb(flow, u)[0]), -20, 24, 8800);
        Assert.True(Math.Abs(total - 1) < 1e-6, $"{total}");
        // standardisation of k + U(0, 1): mean of k + ½, variance + 1/12
        var (m, s) = Moments(table.Values);
        var scale = ((NormalizingFlows.Transforms.FixedAffine<double>)p.Steps.Steps[^1]).Scale[0];
        Assert.Equal(1 / Math.Sqrt(s * s + 1.0 / 12), scale, 12);
        Assert.Contains(0, p.DequantizedColumns);
        Assert.Equal(m + 0.5, -((NormalizingFlows.Transforms.FixedAffine<double>)p.Steps.Steps[^1]).Shift[0] / scale, 10);
    }

    [Fact]
    public void MakeTrainingDataDequantizesOnlyTheIntegerColumns()
    {
        var model = MixedModel<double>();
        var table = TransformCatalog.PreprocessingTable(new Rng(5), 50);
        var data = model.MakeTrainingData(table.ToTensor<double>(), new Rng(1));
        for (int r = 0; r < 50; r++)
            for (int j = 0; j < 5; j++)
                if (j == 3) Assert.Equal(table[r, j], Math.Floor(data.X[r, j]));
                else Assert.Equal(table[r, j], data.X[r, j]);
    }
}
