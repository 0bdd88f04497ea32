using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tests.Models;

namespace NormalizingFlows.Tests.Data;

/// <summary>
/// Issue #14 items 1, 3 and 4: automatic preprocessing bounds only a side with a real edge, given bounds, degenerate
/// tables, and log p that is never NaN for finite inputs near the float range.
/// </summary>
public class DomainTests
{
    // columns: an edge at the minimum (0.5 + Exp(1)), an edge at the maximum (3 − Exp(1)), a box U(0, 1), a Gaussian
    private static Table EdgeTable(int n, int seed)
    {
        var r = new Rng(seed);
        var v = new double[n * 4];
        for (int i = 0; i < n; i++)
        {
            v[4 * i] = 0.5 - Math.Log(1 - r.NextDouble());
            v[4 * i + 1] = 3 + Math.Log(1 - r.NextDouble());
            v[4 * i + 2] = r.NextDouble();
            v[4 * i + 3] = r.NextNormal();
        }
        return new Table(["low", "high", "box", "gauss"], v, n);
    }

    private static string Kind(PreprocessingSpec spec, int j) => PreprocessingSpec.KindName(spec.Columns[j].Kind);

    [Fact]
    public void AutoBoundsOnlyTheSideThatHasAnEdge()
    {
        var t = EdgeTable(5000, 1);
        var spec = PreprocessingSpec.Auto(t);
        Assert.Equal("log", Kind(spec, 0));
        Assert.InRange(spec.Columns[0].Shift, 0.0, 0.5);          // bounded just below the edge at 0.5 …
        Assert.Equal("log-upper", Kind(spec, 1));                 // … and here just above the edge at 3
        Assert.InRange(spec.Columns[1].Shift, 3.0, 4.0);
        Assert.Equal("minmax-logit", Kind(spec, 2));              // edges at both ends: walls on both sides
        Assert.Equal("standardize", Kind(spec, 3));
    }

    [Fact]
    public void HeldOutEventsBeyondTheTrainingRangeOnAnOpenSideHaveAFiniteDensity()
    {
        var t = EdgeTable(5000, 2);
        var pipeline = PreprocessingPipeline.Fit<double>(t, PreprocessingSpec.Auto(t));
        var model = new FlowModel<double>(new FlowSpec { Builder = "maf", Features = 4, Layers = 2, Hidden = 8, Seed = 1, DType = "float64" }, pipeline);
        double lowMax = Enumerable.Range(0, t.Rows).Max(i => t[i, 0]), highMin = Enumerable.Range(0, t.Rows).Min(i => t[i, 1]);
        var x = Tensor<double>.From(
        [
            lowMax + 5, 2.0, 0.5, 0.0,      // beyond the training maximum of the column bounded below only
            1.0, highMin - 5, 0.5, 0.0,     // beyond the training minimum of the column bounded above only
            1.0, 2.0, 0.5, 40.0,            // far out on the Gaussian
            -1.0, 2.0, 0.5, 0.0,            // below the edge of "low": outside the domain
            1.0, 5.0, 0.5, 0.0,             // above the edge of "high"
            1.0, 2.0, 1.5, 0.0,             // beyond the box's wall
        ], 6, 4);
        var lp = model.LogProb(x);
        for (int i = 0; i < 3; i++) Assert.True(double.IsFinite(lp[i]), $"row {i}: {lp[i]}");
        for (int i = 3; i < 6; i++) Assert.True(double.IsNegativeInfinity(lp[i]), $"row {i}: {lp[i]}");
    }

    [Fact]
    public void OneSidedAndGivenBoundsSurviveSavingAndLoading()
    {
        var t = EdgeTable(2000, 5);
        var spec = PreprocessingSpec.Auto(t, ColumnBounds.Parse(["gauss=-9:9"]));
        var model = new FlowModel<float>(new FlowSpec { Builder = "maf", Features = 4, Layers = 2, Hidden = 8, Seed = 3 }, PreprocessingPipeline.Fit<float>(t, spec));
        string path = Path.Combine(Path.GetTempPath(), $"nflow-domain-{Guid.NewGuid():N}.nflow");
        try
        {
            ModelFile.Save(path, model);
            var back = ModelFile.Load<float>(path);
            Assert.Equal(spec.ToJson(), back.PreprocessingSpec!.ToJson());
            var x = Tensor<float>.From([1f, 2f, 0.5f, 0f, 30f, -20f, 0.5f, 8.9f, -1f, 2f, 0.5f, 0f, 1f, 2f, 0.5f, 9f], 4, 4);
            var a = model.LogProb(x);
            Assert.Equal(a, back.LogProb(x));
            Assert.True(double.IsFinite(a[0]) && double.IsFinite(a[1]), string.Join(", ", a));
            Assert.True(double.IsNegativeInfinity(a[2]) && double.IsNegativeInfinity(a[3]), string.Join(", ", a));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TheEdgeTestIgnoresTailsFadesAndNoisyPileUps()
    {
        // densities that vanish at their extremes: no wall may be put there (each would cut off held-out events)
        for (int seed = 0; seed < 30; seed++)
        {
            var moons = ToyDatasets.Generate("moons", 1800, seed);
            var r = new Rng(100 + seed);
            var v = new double[1800 * 3];
            for (int i = 0; i < 1800; i++)
            {
                v[3 * i] = moons[i, 0];
                v[3 * i + 1] = Math.Sqrt(r.NextDouble());          // density 2x on (0, 1): fades out at 0
                v[3 * i + 2] = Math.Exp(r.NextNormal());           // log-normal: fades at 0, long tail
            }
            var spec = PreprocessingSpec.Auto(new Table(["moon", "fade", "lognormal"], v, 1800));
            Assert.True(Kind(spec, 0) == "standardize", $"seed {seed}: moons x0 got {Kind(spec, 0)} ({spec.Columns[0].Reason})");
            Assert.True(Kind(spec, 1) is "standardize" or "log-upper", $"seed {seed}: the fade got {Kind(spec, 1)} ({spec.Columns[1].Reason})");
            Assert.True(Kind(spec, 2) is "standardize" or "log", $"seed {seed}: the log-normal got {Kind(spec, 2)} ({spec.Columns[2].Reason})");
            Assert.Equal(0, spec.Columns[2].Shift);
        }
    }

    [Fact]
    public void GivenBoundsSetTheDomainAndAreCheckedAgainstTheData()
    {
        var t = EdgeTable(1000, 3);
        var bounds = ColumnBounds.Parse(["gauss=-10:10", "low=0:", "high=:3.5"]);
        var spec = PreprocessingSpec.Auto(t, bounds);
        Assert.Equal(PreprocessingKind.MinMaxLogit, spec.Columns[3].Kind);
        Assert.Equal((-10.0, 10.0), (spec.Columns[3].Lower!.Value, spec.Columns[3].Upper!.Value));
        Assert.Equal((PreprocessingKind.Log, 0.0), (spec.Columns[0].Kind, spec.Columns[0].Shift));
        Assert.Equal((PreprocessingKind.LogUpper, 3.5), (spec.Columns[1].Kind, spec.Columns[1].Shift));
        var back = PreprocessingSpec.FromJson(spec.ToJson());
        Assert.Equal(spec.Columns[3], back.Columns[3] with { });
        var p = PreprocessingPipeline.Fit<double>(t, spec);
        Assert.Equal(-10.0, p.Guard!.Lower[3]);
        Assert.Equal(10.0, p.Guard.Upper[3]);
        Assert.Equal(3.5, p.Guard.Upper[1]);
        Assert.True(p.InDomain(Tensor<double>.From([1.0, 2.0, 0.5, 9.9], 1, 4))[0]);
        Assert.False(p.InDomain(Tensor<double>.From([1.0, 2.0, 0.5, 10.0], 1, 4))[0]);

        var ex = Assert.Throws<ArgumentException>(() => PreprocessingSpec.Auto(t, ColumnBounds.Parse(["gauss=-1:1"])));
        Assert.Contains("'gauss'", ex.Message);
        Assert.Contains("outside its given bounds", ex.Message);
        Assert.Contains("no-such", Assert.Throws<ArgumentException>(() => PreprocessingSpec.Auto(t, ColumnBounds.Parse(["no-such=0:1"]))).Message);
        Assert.Contains("COLUMN=LOW:HIGH", Assert.Throws<FormatException>(() => ColumnBounds.Parse(["gauss"])).Message);
        Assert.Contains("neither end", Assert.Throws<FormatException>(() => ColumnBounds.Parse(["gauss=:"])).Message);
        Assert.Contains("below the upper", Assert.Throws<FormatException>(() => ColumnBounds.Parse(["gauss=2:1"])).Message);
        Assert.Contains("'abc'", Assert.Throws<FormatException>(() => ColumnBounds.Parse(["gauss=abc:1"])).Message);
    }

    [Fact]
    public void LogUpperIsAnExactInvertibleChangeOfVariables()
    {
        var t = new Table(["h"], [1.0, 2.0, 2.5, 0.0, -3.0], 5);
        var spec = new PreprocessingSpec([new ColumnPreprocessing("h", PreprocessingKind.LogUpper) { Shift = 3 }]);
        var p = PreprocessingPipeline.Fit<double>(t, spec);
        var x = Tensor<double>.From([2.9, -10.0, 0.0], 3, 1);
        using var _ = NormalizingFlows.Autograd.GradMode.Disable();
        var (z, ld) = p.Forward(new NormalizingFlows.Autograd.Var<double>(x));
        var (back, ldInv) = p.Inverse(z);
        double mean = p.Steps.Steps.OfType<NormalizingFlows.Transforms.FixedAffine<double>>().Single().Shift[0];
        double scale = p.Steps.Steps.OfType<NormalizingFlows.Transforms.FixedAffine<double>>().Single().Scale[0];
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(x[i, 0], back.Value[i, 0], 12);
            Assert.Equal(Math.Log(3 - x[i, 0]) * scale + mean, z.Value[i, 0], 12);
            // dz/dx = −scale/(3 − x): log|det| = log scale − log(3 − x)
            Assert.Equal(Math.Log(scale) - Math.Log(3 - x[i, 0]), ld.Value[i], 12);
            Assert.Equal(-ld.Value[i], ldInv.Value[i], 12);
        }
        Assert.Contains("below the shift 3", Assert.Throws<ArgumentException>(() => PreprocessingPipeline.Fit<double>(new Table(["h"], [1.0, 4.0], 2), spec)).Message);
    }

    [Fact]
    public void ConstantColumnsAndIdenticalRowsAreFound()
    {
        var t = new Table(["a", "b", "c"], [1, 5, 2, 1, 6, 2, 1, 5, 2, 1, 7, 2], 4);
        var dg = TableChecks.Degeneracy(t);
        Assert.Equal([("a", 1.0), ("c", 2.0)], dg.ConstantColumns);
        Assert.Equal(3, dg.DistinctRows);
        Assert.False(dg.AllRowsIdentical);
        Assert.True(TableChecks.Degeneracy(new Table(["a", "b"], [1, 2, 1, 2, 1, 2], 3)).AllRowsIdentical);
        Assert.Equal(180, TableChecks.MinimumDistinctRows(18));
    }

    [Theory]
    [MemberData(nameof(SamplingTests.Builders), MemberType = typeof(SamplingTests))]
    public void LogProbIsNeverNaNForFiniteInputsNearTheFloatRange(string builder)
    {
        // a standardised column with std < 1: 3e38 overflows float on standardisation
        var r = new Rng(4);
        var v = new double[400];
        for (int i = 0; i < v.Length; i++) v[i] = 0.4 * r.NextNormal();
        var t = new Table(["a", "b"], v, 200);
        var pipeline = PreprocessingPipeline.Fit<float>(t, PreprocessingSpec.Uniform(t.Columns, PreprocessingKind.Standardize));
        var model = new FlowModel<float>(new FlowSpec { Builder = builder, Features = 2, Layers = 2, Hidden = 8, Bins = builder == "iaf" ? null : 4, Seed = 2 }, pipeline);
        float[] rows = [3e38f, 0, -3e38f, 0, 0, 3e38f, 1e20f, -1e20f, 0, 1e30f, float.PositiveInfinity, 0, 0.1f, -0.2f];
        var lp = model.LogProb(Tensor<float>.From(rows, 7, 2));
        for (int i = 0; i < 6; i++) Assert.True(double.IsNegativeInfinity(lp[i]), $"{builder} row {i} ({rows[2 * i]}, {rows[2 * i + 1]}): {lp[i]}");
        Assert.True(double.IsFinite(lp[6]), $"{builder}: an ordinary row: {lp[6]}");
        // without preprocessing too
        var bare = new FlowModel<float>(new FlowSpec { Builder = builder, Features = 2, Layers = 2, Hidden = 8, Bins = builder == "iaf" ? null : 4, Seed = 2 });
        var lp2 = bare.LogProb(Tensor<float>.From(rows, 7, 2));
        Assert.All(lp2, x => Assert.False(double.IsNaN(x)));
        Assert.True(double.IsFinite(lp2[6]));
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => model.LogProb(Tensor<float>.From([float.NaN, 0f], 1, 2))).Message);
    }
}
