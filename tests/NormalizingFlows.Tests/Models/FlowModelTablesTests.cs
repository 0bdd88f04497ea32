using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Models;

/// <summary>Issue #15 items 5 and 6: batched log p and sampling over tables, and samples written with their log p.</summary>
public class FlowModelTablesTests
{
    private static FlowModel<T> Model<T>(string builder = "nsf") where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var r = new Rng(3);
        var v = new double[2 * 200];
        for (int i = 0; i < 200; i++) { v[2 * i] = Math.Floor(4 * r.NextDouble()); v[2 * i + 1] = 1 + r.NextNormal(); }
        var t = new Table(["k", "y"], v, 200);
        var pipeline = PreprocessingPipeline.Fit<T>(t, PreprocessingSpec.Auto(t));
        var model = new FlowModel<T>(new FlowSpec { Builder = builder, Features = 2, Layers = 2, Hidden = 8, Bins = 4, Seed = 2, DType = FlowSpec.DTypeOf<T>() }, pipeline);
        foreach (var p in model.Flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += T.CreateTruncating(0.1 * r.NextNormal());
        }
        return model;
    }

    [Fact]
    public void SampledTablesAreTheModelsDrawsAndCarryTheLogProbOfTheEventsAsReturned()
    {
        var model = Model<double>();
        Assert.Equal(PreprocessingKind.Dequantize, model.PreprocessingSpec!.Columns[0].Kind);   // samples are floored: log p is of the floored events
        var table = FlowModelTables.Sample(model, 700, new Rng(5), withLogProb: true);
        Assert.Equal(["k", "y", SampleStream.LogProbColumn], table.Columns);
        var direct = model.Sample(700, new Rng(5)).ToDoubleArray();
        var events = table.SelectColumns("k,y");
        Assert.Equal(direct, events.Values);
        var lp = FlowModelTables.LogProb(model, events);
        Assert.Equal(lp, table.ToColumns()[2]);
        Assert.All(lp, x => Assert.True(double.IsFinite(x)));
        Assert.Equal(model.LogProb(events.ToTensor<double>()), lp);
    }

    [Fact]
    public void NpySamplesOfADoubleModelCarryTheLogProbOfTheirFloat32Values()
    {
        var model = Model<double>("maf");
        string path = Path.Combine(Path.GetTempPath(), $"nflow-lp-{Guid.NewGuid():N}.npy");
        try
        {
            using (var fs = File.Create(path)) SampleStream.WriteNpy(model, 300, new Rng(8), fs, withLogProb: true);
            var read = Npy.Read(path);
            Assert.Equal((300, 3), (read.Rows, read.Cols));
            var events = new Table(["k", "y"], read.SelectColumns("x0,x1").Values, 300);
            var lp = FlowModelTables.LogProb(model, events);
            var stored = read.ToColumns()[2];
            for (int i = 0; i < 300; i++) Assert.Equal((float)lp[i], (float)stored[i]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TablesMustHaveTheModelsColumnsAndALogProbColumnNameMustBeFree()
    {
        var model = Model<float>();
        var ex = Assert.Throws<ArgumentException>(() => FlowModelTables.LogProb(model, new Table(["y", "k"], new double[4], 2)));
        Assert.Contains("columns (y, k) but the model (k, y)", ex.Message);
        var clash = new FlowModel<float>(new FlowSpec { Builder = "maf", Features = 2, Layers = 1, Hidden = 4 }, columns: ["x", SampleStream.LogProbColumn]);
        Assert.Contains("column named 'log_prob'", Assert.Throws<ArgumentException>(() => FlowModelTables.Sample(clash, 3, new Rng(1), withLogProb: true)).Message);
        Assert.Equal(["x", "log_prob"], FlowModelTables.Sample(clash, 3, new Rng(1)).Columns);
    }
}
