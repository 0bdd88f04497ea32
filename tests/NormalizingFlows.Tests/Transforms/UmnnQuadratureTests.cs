using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Monotonic;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>
/// UMNN's quadrature op (<see cref="UmnnQuadrature"/>): its values are bit-identical to the quadrature recorded op by op,
/// its gradients (x, embeddings, the integrand network's weights) equal the recorded quadrature's to round-off, in one
/// block of nodes and in several, and in row blocks on worker threads; and the tape of a UMNN layer holds no activation
/// of the integrand network.
/// </summary>
public class UmnnQuadratureTests
{
    private const int Rows = 40, Embedding = 4, Hidden = 16, Nodes = 17;

    [Theory]
    [InlineData(1 << 16, 1e-13)] // one block
    [InlineData(Rows * 5, 1e-13)] // blocks of 5, 5, 5 and 2 nodes
    [InlineData(1, 1e-13)] // node by node
    public void TheOpMatchesTheRecordedQuadratureInDouble(int blockPositions, double tolerance) => Compare<double>(blockPositions, tolerance);

    [Theory]
    [InlineData(1 << 16, 1e-5)]
    [InlineData(Rows * 5, 1e-5)]
    public void TheOpMatchesTheRecordedQuadratureInFloat(int blockPositions, double tolerance) => Compare<float>(blockPositions, tolerance);

    private static void Compare<T>(int blockPositions, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var network = Network<T>();
        var (scales, weights) = Rule();
        var rng = new Rng(5);
        var x = new Var<T>(rng.Normal<T>(Rows, 1), requiresGrad: true);
        var h = new Var<T>(rng.Normal<T>(Rows, Embedding), requiresGrad: true);
        var seed = new Var<T>(rng.Normal<T>(Rows, 2));

        var op = UmnnQuadrature.Evaluate(network, x, h, scales, weights, blockPositions);
        Ops.Sum(Ops.Mul(op, seed)).Backward();
        var opGrads = Gradients(network, x, h);

        var (sum, end) = UmnnQuadrature.Recorded(network, x, h, scales, weights);
        var recorded = Ops.ConcatColumns(sum, end);
        Ops.Sum(Ops.Mul(recorded, seed)).Backward();
        var recordedGrads = Gradients(network, x, h);

        Assert.Equal(recorded.Value.ToArray(), op.Value.ToArray()); // bit-identical values
        Assert.Equal(recordedGrads.Count, opGrads.Count);
        for (int i = 0; i < opGrads.Count; i++)
        {
            var (name, a) = opGrads[i]; var b = recordedGrads[i].Values;
            double scale = Math.Max(1, b.Max(Math.Abs));
            Assert.True(b.Any(v => v != 0), $"{name}: the recorded gradient is zero, the test would prove nothing");
            for (int j = 0; j < a.Length; j++)
                Assert.True(Math.Abs(a[j] - b[j]) <= tolerance * scale, $"{name}[{j}]: op {a[j]} vs recorded {b[j]}");
        }
    }

    [Fact]
    public void AUmnnLayersTapeHoldsNoActivationOfTheIntegrandNetwork()
    {
        // one activation of the integrand network at every quadrature position is rows·features·nodes·hidden values;
        // the recorded quadrature keeps several per hidden layer, the op none (only the conditioner's tape, O(rows·features·parameters))
        const int n = 256, k = 3;
        var layer = new AutoregressiveTransform<double>(k, new UmnnUpdate(embedding: Embedding, hidden: Hidden, nodes: Nodes), new Rng(7), 0, new MadeConditioner { HiddenFeatures = 16 });
        var x = new Var<double>(new Rng(8).Normal<double>(n, k), requiresGrad: true);
        long activation = (long)n * k * Nodes * Hidden;

        var (y, logDet) = layer.Forward(x);
        long forward = TapeValues(y, logDet);
        Assert.True(forward < activation, $"forward tape holds {forward} values, one integrand activation is {activation}");
        var (xBack, inverseLogDet) = layer.Inverse(y.Detach());
        long inverse = TapeValues(xBack, inverseLogDet);
        Assert.True(inverse < activation, $"inverse tape holds {inverse} values, one integrand activation is {activation}");

        // the same positions recorded op by op: the bound above fails
        var network = Network<double>();
        var (scales, weights) = Rule();
        var (sum, end) = UmnnQuadrature.Recorded(network, new Var<double>(new Rng(9).Normal<double>(n * k, 1), requiresGrad: true),
            new Var<double>(new Rng(10).Normal<double>(n * k, Embedding), requiresGrad: true), scales, weights);
        long recorded = TapeValues(sum, end);
        Assert.True(recorded > 2 * activation, $"the recorded quadrature's tape holds only {recorded} values");
    }

    [Fact]
    public void RowBlocksOnWorkerThreadsGiveTheSameGradients()
    {
        // the backward's re-evaluation runs inside a row block's backward: the network's gradients go to that block's
        // buffers and x's to its own, and the sum over blocks is the whole batch's
        double[] Run(int shards)
        {
            var layer = new AutoregressiveTransform<double>(3, new UmnnUpdate(embedding: Embedding, hidden: Hidden, nodes: Nodes), new Rng(7), 0, new MadeConditioner { HiddenFeatures = 16 });
            var r = new Rng(4);
            foreach (var p in layer.Parameters())
            {
                var s = p.Value.Span;
                for (int i = 0; i < s.Length; i++) s[i] += 0.3 * r.NextNormal();
            }
            var x = new Var<double>(new Rng(8).Normal<double>(300, 3), requiresGrad: true);
            var outs = RowShards.Map(300, shards, [x], block =>
            {
                var (y, logDet) = layer.Forward(block[0]!);
                return [y, logDet];
            });
            Ops.Add(Ops.Sum(Ops.Square(outs[0])), Ops.Sum(outs[1])).Backward();
            return [.. layer.Parameters().SelectMany(p => p.Grad!.ToArray()), .. x.Grad!.ToArray()];
        }
        var whole = Run(1);
        var split = Run(3);
        Assert.Equal(whole.Length, split.Length);
        for (int i = 0; i < whole.Length; i++) Assert.Equal(whole[i], split[i], 9);
    }

    private static IntegrandNetwork<T> Network<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var network = new IntegrandNetwork<T>(Embedding, Hidden, 2, new Rng(3));
        var r = new Rng(4);
        foreach (var p in network.Parameters()) // the output layer starts at zero: move every weight off its start
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += T.CreateTruncating(0.5 * r.NextNormal());
        }
        return network;
    }

    private static (double[] Scales, double[] Weights) Rule()
    {
        var (t, w) = ClenshawCurtis.Rule(Nodes);
        return ([.. t.Select(v => 0.5 * (1 + v))], [.. w.Select(v => 0.5 * v)]);
    }

    // every gradient as doubles (x, h, then the network's parameters by name), zeroing them for the next pass
    private static List<(string Name, double[] Values)> Gradients<T>(IntegrandNetwork<T> network, Var<T> x, Var<T> h) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var all = new List<(string, Var<T>)> { ("x", x), ("h", h) };
        all.AddRange(network.NamedParameters().Select(p => (p.Key, (Var<T>)p.Value)));
        var result = all.Select(p => (p.Item1, p.Item2.Grad!.ToArray().Select(v => double.CreateTruncating(v)).ToArray())).ToList();
        foreach (var (_, v) in all) v.ZeroGrad();
        return result;
    }

    // values held by the tape behind the roots (each node's value once)
    private static long TapeValues<T>(params Var<T>[] roots) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var seen = new HashSet<Var<T>>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Var<T>>(roots);
        long total = 0;
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            if (!seen.Add(v)) continue;
            total += v.Value.Length;
            foreach (var input in v.Inputs) stack.Push(input);
        }
        return total;
    }
}
