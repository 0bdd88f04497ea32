using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Nn;

/// <summary>
/// The masked layer's blocked products (zero blocks of the mask skipped) against the dense masked product, and the
/// block plan's coverage of every connection.
/// </summary>
public class MaskBlocksTests
{
    // the three layers of a MADE of the bench's shape (D = 18, 128 hidden, 2 outputs per feature) and masks with
    // context columns, an all-zero row group and no structure at all
    public static IEnumerable<object[]> Masks()
    {
        foreach (var order in new[] { MadeOrder.Natural, MadeOrder.Reversed, MadeOrder.Random })
        {
            var made = new Made<double>(18, 128, new Rng(3), outputMultiplier: 2, order: order);
            for (int l = 0; l < made.Layers.Count; l++) yield return [$"made-{order}-{l}", made.Layers[l].Mask];
        }
        var conditional = new Made<double>(10, 96, new Rng(4), outputMultiplier: 23, contextFeatures: 3);
        foreach (var layer in conditional.Layers) yield return ["made-context", layer.Mask];
        var gappy = Tensor<double>.Zeros(100, 70);
        for (int r = 40; r < 100; r++)
            for (int c = 0; c < 70; c++)
                if (c < r / 3 || c >= 60) gappy[r, c] = 1; // rows 0–39 unconnected; columns 60–69 feed every later row
        yield return ["gappy", gappy];
        var rng = new Rng(5);
        var random = Tensor<double>.Zeros(80, 64);
        for (int i = 0; i < random.Length; i++) random.Span[i] = rng.NextDouble() < 0.5 ? 1 : 0;
        yield return ["random", random];
    }

    [Theory]
    [MemberData(nameof(Masks))]
    public void Blocks_CoverEveryConnection(string name, Tensor<double> mask)
    {
        var blocks = MaskBlocks.Of(mask);
        int rows = mask.Dim(0), cols = mask.Dim(1);
        var byRow = new bool[rows, cols];
        var byCol = new bool[rows, cols];
        Assert.Equal(rows, blocks.ByRows.Sum(b => b.End - b.Start));
        Assert.Equal(cols, blocks.ByColumns.Sum(b => b.End - b.Start));
        foreach (var b in blocks.ByRows)
            foreach (var (lo, hi) in b.Runs)
                for (int r = b.Start; r < b.End; r++) for (int c = lo; c < hi; c++) byRow[r, c] = true;
        foreach (var b in blocks.ByColumns)
            foreach (var (lo, hi) in b.Runs)
                for (int c = b.Start; c < b.End; c++) for (int r = lo; r < hi; r++) byCol[r, c] = true;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                if (mask[r, c] != 0) Assert.True(byRow[r, c] && byCol[r, c], $"{name}: connection ({r}, {c}) outside the blocks");
    }

    [Fact]
    public void SortedMadeHiddenLayer_SkipsAboutHalf()
    {
        var made = new Made<float>(18, 128, new Rng(1));
        var hidden = MaskBlocks.Of(made.Layers[1].Mask);
        Assert.False(hidden.IsDense);
        Assert.InRange(hidden.WorkFraction, 0.5, 0.7); // the staircase holds 53 % of the entries
    }

    [Theory]
    [MemberData(nameof(Masks))]
    public void BlockedLayer_EqualsDenseMaskedProduct_ValueAndGradients(string name, Tensor<double> mask)
    {
        var rng = new Rng(11);
        int outF = mask.Dim(0), inF = mask.Dim(1), n = 37;
        var blocks = MaskBlocks.Of(mask);
        foreach (bool relu in new[] { false, true })
            foreach (bool withBias in new[] { false, true })
            foreach (bool gradientThere in new[] { false, true }) // the input gradient written new, or accumulated into
            {
                var before = gradientThere ? rng.Normal<double>(n, inF) : null;
                var w = new Var<double>(rng.Normal<double>(outF, inF), requiresGrad: true);
                var b = withBias ? new Var<double>(rng.Normal<double>(outF), requiresGrad: true) : null;
                var x = rng.Normal<double>(n, inF);
                var up = rng.Normal<double>(n, outF);
                var (yDense, gDense) = Run(x, w, b, mask, relu, null, up, before);
                var (yBlocked, gBlocked) = Run(x, w, b, mask, relu, blocks, up, before);
                for (int i = 0; i < yDense.Length; i++)
                    Assert.True(Math.Abs(yDense[i] - yBlocked[i]) <= 1e-12 * (1 + Math.Abs(yDense[i])), $"{name} relu={relu} bias={withBias}: y[{i}] {yBlocked[i]} vs {yDense[i]}");
                for (int g = 0; g < gDense.Length; g++)
                    for (int i = 0; i < gDense[g].Length; i++)
                        Assert.True(Math.Abs(gDense[g][i] - gBlocked[g][i]) <= 1e-12 * (1 + Math.Abs(gDense[g][i])), $"{name} relu={relu} bias={withBias}: gradient {g}[{i}] {gBlocked[g][i]} vs {gDense[g][i]}");
            }
    }

    // y and the gradients of Σ up∘y with respect to x, W (and b)
    private static (double[] Y, double[][] Grads) Run(Tensor<double> x, Var<double> w, Var<double>? b, Tensor<double> mask, bool relu, MaskBlocks? blocks, Tensor<double> up,
        Tensor<double>? gradientBefore)
    {
        w.Grad = null;
        if (b is not null) b.Grad = null;
        var xv = new Var<double>(x.Clone(), requiresGrad: true);
        if (gradientBefore is not null) xv.Grad = gradientBefore.Clone();
        var y = MaskedLinearOp.Apply(xv, w, mask, b, relu, blocks);
        Ops.Sum(Ops.Mul(y, new Var<double>(up))).Backward();
        var grads = new List<double[]> { xv.Grad!.ToArray(), w.Grad!.ToArray() };
        if (b is not null) grads.Add(b.Grad!.ToArray());
        return (y.Value.ToArray(), [.. grads]);
    }
}
