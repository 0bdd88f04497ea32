using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.IO;

public sealed class ModuleSerializationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nf-modser-" + Guid.NewGuid().ToString("N"));

    public ModuleSerializationTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Made_SaveLoad_RestoresOrderDegreesMasksAndOutputs()
    {
        string path = Path.Combine(_dir, "made.safetensors");
        var a = new Made<float>(5, 16, new Rng(1), outputMultiplier: 3, contextFeatures: 2, order: MadeOrder.Random, randomHiddenDegrees: true);
        a.Save(path, new Dictionary<string, string> { ["arch"] = "made" });
        var b = new Made<float>(5, 16, new Rng(2), outputMultiplier: 3, contextFeatures: 2, order: MadeOrder.Random, randomHiddenDegrees: true);
        var meta = b.Load(path);
        Assert.Equal("made", meta["arch"]);
        Assert.Equal(a.Order, b.Order);
        var x = new Rng(3).Normal<float>(4, 5); var c = new Rng(4).Normal<float>(4, 2);
        Assert.Equal(a.Forward(x, c).Value.ToArray(), b.Forward(x, c).Value.ToArray());
    }

    [Fact]
    public void BatchNorm_RunningStatistics_ArePersisted()
    {
        string path = Path.Combine(_dir, "bn.safetensors");
        var a = new BatchNorm1d<double>(3);
        a.Forward(new Rng(1).Normal<double>(10, 3));
        a.Save(path);
        var b = new BatchNorm1d<double>(3);
        b.Load(path);
        Assert.Equal(a.RunningMean.ToArray(), b.RunningMean.ToArray());
        Assert.Equal(a.RunningVar.ToArray(), b.RunningVar.ToArray());
        Assert.Equal(1.0, b.BatchesTracked[0]);
    }

    [Fact]
    public void Load_ChecksDtypeNamesAndShapes()
    {
        string path = Path.Combine(_dir, "mlp64.safetensors");
        new Mlp<double>(2, [4], 1, new Rng(1)).Save(path);
        var f = new Mlp<float>(2, [4], 1, new Rng(2));
        var ex = Assert.Throws<InvalidDataException>(() => f.Load(path));
        Assert.Contains("F64", ex.Message);
        Assert.Contains(path, ex.Message);
        f.Load(path, convert: true);
        Assert.Throws<ArgumentException>(() => new Mlp<double>(2, [5], 1, new Rng(1)).Load(path));
        Assert.Throws<ArgumentException>(() => new Mlp<double>(2, [4, 4], 1, new Rng(1)).Load(path, strict: false));
    }

    [Fact]
    public void Optimizer_AndCheckpoint_RoundTrip()
    {
        var net = new Mlp<double>(2, [3], 1, new Rng(1));
        var opt = new Adam<double>(net.Parameters(), 0.01);
        var x = new Rng(2).Normal<double>(8, 2);
        for (int i = 0; i < 3; i++) { opt.ZeroGrad(); Ops.Mean(Ops.Square(net.Forward(x))).Backward(); opt.Step(); }

        string optPath = Path.Combine(_dir, "opt.safetensors");
        opt.Save(optPath);
        var opt2 = new Adam<double>(new Mlp<double>(2, [3], 1, new Rng(5)).Parameters(), 0.01);
        opt2.Load(optPath);
        Assert.Equal(3, opt2.StepCount);

        string ck = Path.Combine(_dir, "ck.safetensors");
        ModuleSerialization.SaveCheckpoint(ck, net, opt, new Dictionary<string, string> { ["epoch"] = "3" });
        var net3 = new Mlp<double>(2, [3], 1, new Rng(9));
        var opt3 = new Adam<double>(net3.Parameters(), 0.01);
        Assert.Equal("3", ModuleSerialization.LoadCheckpoint(ck, net3, opt3)["epoch"]);
        for (int i = 0; i < 3; i++)
        {
            opt.ZeroGrad(); Ops.Mean(Ops.Square(net.Forward(x))).Backward(); opt.Step();
            opt3.ZeroGrad(); Ops.Mean(Ops.Square(net3.Forward(x))).Backward(); opt3.Step();
        }
        Assert.Equal(net.Forward(x).Value.ToArray(), net3.Forward(x).Value.ToArray());
    }
}
