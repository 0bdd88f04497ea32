using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Nn;

public class ModuleTests
{
    private sealed class Net : Module<double>
    {
        public Net(Rng rng)
        {
            Scale = RegisterParameter("scale", new Parameter<double>(Tensor<double>.Full(2.0, 3)));
            Counter = RegisterBuffer("counter", Tensor<double>.Zeros(1));
            Inner = RegisterModule("inner", new Mlp<double>(3, [4], 2, rng));
            Norm = RegisterModule("norm", new BatchNorm1d<double>(2));
        }
        public Parameter<double> Scale { get; }
        public Tensor<double> Counter { get; }
        public Mlp<double> Inner { get; }
        public BatchNorm1d<double> Norm { get; }
        public Var<double> Forward(Var<double> x) => Norm.Forward(Inner.Forward(Ops.Mul(x, Scale)));
    }

    [Fact]
    public void Names_AreDottedInRegistrationOrder()
    {
        var net = new Net(new Rng(1));
        Assert.Equal(["scale", "inner.layers.0.weight", "inner.layers.0.bias", "inner.layers.1.weight", "inner.layers.1.bias", "norm.weight", "norm.bias"],
            net.NamedParameters().Select(p => p.Key));
        Assert.Equal(["counter", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"], net.NamedBuffers().Select(p => p.Key));
        Assert.Equal(["", "inner", "inner.layers", "inner.layers.0", "inner.layers.1", "norm"], net.NamedModules().Select(p => p.Key));
        Assert.Equal(["scale", "counter", "inner.layers.0.weight", "inner.layers.0.bias", "inner.layers.1.weight", "inner.layers.1.bias",
            "norm.weight", "norm.bias", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"], net.StateDict().Keys);
        Assert.Equal(7, net.Parameters().Count());
    }

    [Fact]
    public void TrainEval_Recurse_ZeroGrad_Clears()
    {
        var net = new Net(new Rng(2));
        Assert.True(net.NamedModules().All(m => m.Value.Training));
        net.Eval();
        Assert.True(net.NamedModules().All(m => !m.Value.Training));
        net.Train();
        Assert.True(net.Norm.Training);
        var x = new Rng(3).Normal<double>(5, 3);
        Ops.Sum(Ops.Square(net.Forward(x))).Backward();
        Assert.Contains(net.Parameters(), p => p.Grad!.ToArray().Any(v => v != 0));
        net.ZeroGrad();
        Assert.All(net.Parameters(), p => Assert.True(p.Grad is null || p.Grad.ToArray().All(v => v == 0)));
    }

    [Fact]
    public void Registration_RejectsDuplicatesAndDots()
    {
        Assert.Throws<ArgumentException>(() => new BadNet(0));
        Assert.Throws<ArgumentException>(() => new BadNet(1));
    }

    private sealed class BadNet : Module<float>
    {
        public BadNet(int kind)
        {
            RegisterBuffer("a", Tensor<float>.Zeros(1));
            if (kind == 0) RegisterParameter("a", new Parameter<float>(Tensor<float>.Zeros(1)));
            else RegisterBuffer("b.c", Tensor<float>.Zeros(1));
        }
    }

    [Fact]
    public void StateDict_RoundTrip_RestoresOutputsAndBuffers()
    {
        var a = new Made<double>(4, 8, new Rng(1), outputMultiplier: 2, order: MadeOrder.Random, randomHiddenDegrees: true);
        var b = new Made<double>(4, 8, new Rng(2), outputMultiplier: 2, order: MadeOrder.Random, randomHiddenDegrees: true);
        Assert.NotEqual(a.Order, b.Order);
        var x = new Rng(5).Normal<double>(3, 4);
        b.LoadStateDict(a.StateDict());
        Assert.Equal(a.Order, b.Order);
        Assert.Equal(a.HiddenDegrees(1), b.HiddenDegrees(1));
        Assert.Equal(a.Forward(x).Value.ToArray(), b.Forward(x).Value.ToArray());
        // the state holds copies of values, not shared tensors
        a.Layers[0].Weight.Value[0] += 1;
        Assert.NotEqual(a.Layers[0].Weight.Value[0], b.Layers[0].Weight.Value[0]);
    }

    [Fact]
    public void LoadStateDict_NamesTheFirstMismatch_AndCopiesNothingOnFailure()
    {
        var net = new Net(new Rng(1));
        var before = net.Scale.Value.ToArray();
        var state = new Net(new Rng(9)).StateDict();
        state["scale"] = Tensor<double>.Full(7.0, 3);

        var missing = new Dictionary<string, Tensor<double>>(state);
        missing.Remove("norm.running_var");
        var ex1 = Assert.Throws<KeyNotFoundException>(() => net.LoadStateDict(missing));
        Assert.Contains("missing key 'norm.running_var'", ex1.Message);

        var extra = new Dictionary<string, Tensor<double>>(state) { ["norm.extra"] = Tensor<double>.Zeros(2) };
        var ex2 = Assert.Throws<ArgumentException>(() => net.LoadStateDict(extra));
        Assert.Contains("unexpected key 'norm.extra'", ex2.Message);

        var wrong = new Dictionary<string, Tensor<double>>(state) { ["inner.layers.1.weight"] = Tensor<double>.Zeros(4, 2) };
        var ex3 = Assert.Throws<ArgumentException>(() => net.LoadStateDict(wrong));
        Assert.Contains("'inner.layers.1.weight'", ex3.Message);
        Assert.Contains("[4, 2]", ex3.Message);
        Assert.Contains("[2, 4]", ex3.Message);
        Assert.Equal(before, net.Scale.Value.ToArray());      // nothing copied

        // non-strict: missing and unexpected keys are ignored, shapes still checked
        net.LoadStateDict(missing, strict: false);
        Assert.Equal([7.0, 7.0, 7.0], net.Scale.Value.ToArray());
        net.LoadStateDict(extra, strict: false);
        Assert.Throws<ArgumentException>(() => net.LoadStateDict(wrong, strict: false));
    }

    [Fact]
    public void ModulesBuiltInsideAScope_SurviveIt()
    {
        Made<float> made;
        using (TensorScope.Begin()) made = new Made<float>(3, 8, new Rng(1), outputMultiplier: 2);
        Assert.All(made.StateDict().Values, t => Assert.False(t.IsDisposed));
        made.Forward(new Rng(2).Normal<float>(2, 3));
    }
}
