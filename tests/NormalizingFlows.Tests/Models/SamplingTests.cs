using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Models;

/// <summary>
/// Issue #14 items 4 and 9: a model's samples follow its own density (no clamping unless asked for), for every
/// builder; samples stream in blocks with 64-bit counts.
/// </summary>
public class SamplingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const double Lo = -6, Hi = 6;
    private const int Cells = 12, Sub = 12;

    // preprocessing fitted on few points (training range about ±2.2σ), then a perturbed flow: several per cent of the
    // model's mass lies outside the training range, where clamping would pile it up on the range's edges
    private static FlowModel<double> Model(string builder, int seed)
    {
        var r = new Rng(seed);
        var v = new double[2 * 60];
        for (int i = 0; i < v.Length; i++) v[i] = r.NextNormal();
        var t = new Table(["a", "b"], v, 60);
        var pipeline = PreprocessingPipeline.Fit<double>(t, PreprocessingSpec.Uniform(t.Columns, PreprocessingKind.Standardize));
        var model = new FlowModel<double>(new FlowSpec { Builder = builder, Features = 2, Layers = 2, Hidden = 8, Bins = builder == "iaf" ? null : 4, Seed = seed, DType = "float64" }, pipeline);
        foreach (var prm in model.Flow.Parameters())
        {
            var s = prm.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += 0.15 * r.NextNormal();
        }
        return model;
    }

    /// <summary>Probability of each of the Cells × Cells cells of [Lo, Hi]² by the midpoint rule on Sub × Sub points per cell.</summary>
    private static double[] CellProbabilities(FlowModel<double> model)
    {
        int m = Cells * Sub;
        double h = (Hi - Lo) / m;
        var pts = new double[m * m * 2];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
            {
                pts[2 * (i * m + j)] = Lo + (i + 0.5) * h;
                pts[2 * (i * m + j) + 1] = Lo + (j + 0.5) * h;
            }
        var lp = model.LogProb(Tensor<double>.From(pts, m * m, 2));
        var p = new double[Cells * Cells];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++) p[(i / Sub) * Cells + j / Sub] += Math.Exp(lp[i * m + j]) * h * h;
        return p;
    }

    /// <summary>χ² of sample counts against the integrated density (cells with fewer than 5 expected pooled, plus the outside of the box) and its degrees of freedom.</summary>
    private static (double Chi2, int Ndf, double Outside) Chi2(FlowModel<double> model, Tensor<double> samples)
    {
        var p = CellProbabilities(model);
        int n = samples.Dim(0);
        var counts = new double[Cells * Cells + 1];
        double w = (Hi - Lo) / Cells;
        for (int r = 0; r < n; r++)
        {
            double a = samples[r, 0], b = samples[r, 1];
            if (a < Lo || a >= Hi || b < Lo || b >= Hi) counts[^1]++;
            else counts[(int)((a - Lo) / w) * Cells + (int)((b - Lo) / w)]++;
        }
        var expected = p.Append(Math.Max(0, 1 - p.Sum())).Select(x => x * n).ToArray();
        double chi2 = 0, pooledO = 0, pooledE = 0;
        int ndf = -1;
        for (int c = 0; c < expected.Length; c++)
        {
            if (expected[c] < 5) { pooledO += counts[c]; pooledE += expected[c]; continue; }
            chi2 += (counts[c] - expected[c]) * (counts[c] - expected[c]) / expected[c];
            ndf++;
        }
        if (pooledE > 0) { chi2 += (pooledO - pooledE) * (pooledO - pooledE) / Math.Max(pooledE, 1); ndf++; }
        return (chi2, ndf, 1 - model.Preprocessing!.InDomain(samples).Length / (double)n);
    }

    /// <summary>Every builder (<see cref="FlowSpec.KnownBuilders"/>), for the per-builder theories here and in DomainTests.</summary>
    public static TheoryData<string> Builders()
    {
        var d = new TheoryData<string>();
        foreach (var b in FlowSpec.KnownBuilders) d.Add(b);
        return d;
    }

    [Theory]
    [MemberData(nameof(Builders))]
    public void SampleHistogramsMatchTheIntegratedDensity(string builder)
    {
        var model = Model(builder, 3);
        const int n = 20_000;
        var x = model.Sample(n, new Rng(11));
        var (chi2, ndf, _) = Chi2(model, x);
        // mass beyond the training range: what clamping would have moved onto its edges
        var pre = model.Preprocessing!;
        int beyond = 0;
        for (int r = 0; r < n; r++)
            for (int j = 0; j < 2; j++)
                if (x[r, j] < pre.TrainingMin[j] || x[r, j] > pre.TrainingMax[j]) { beyond++; break; }
        Assert.True(beyond > 100, $"{builder}: only {beyond} samples beyond the training range; the test needs a model with tails");
        Assert.True(chi2 < ndf + 5 * Math.Sqrt(2.0 * ndf), $"{builder}: χ² {chi2:F1} for {ndf} degrees of freedom between samples and density ({beyond} samples beyond the training range)");

        // the opt-in clamp does distort: the same test fails by far
        var clamped = model.Sample(n, new Rng(11), clampToTrainingRange: true);
        var (chi2c, ndfc, _) = Chi2(model, clamped);
        output.WriteLine($"{builder}: {beyond} of {n} samples beyond the training range; χ² {chi2:F1} / {ndf} unclamped, {chi2c:F1} / {ndfc} clamped");
        Assert.True(chi2c > ndfc + 5 * Math.Sqrt(2.0 * ndfc), $"{builder}: clamped χ² {chi2c:F1} for {ndfc}");
    }

    [Fact]
    public void StreamedSamplesAreTheBlockwiseDrawsAndCountsAre64Bit()
    {
        var model = Model("maf", 5);
        long n = SampleStream.BlockRows * 2L + 123;
        using var ms = new MemoryStream();
        SampleStream.WriteNpy(ConvertToFloat(model), n, new Rng(9), ms);
        var path = Path.Combine(Path.GetTempPath(), $"nflow-stream-{Guid.NewGuid():N}.npy");
        try
        {
            File.WriteAllBytes(path, ms.ToArray());
            var t = Npy.Read(path);
            Assert.Equal(n, t.Rows);
            var f = ConvertToFloat(model);
            var rng = new Rng(9);
            long row = 0;
            foreach (var (start, rows) in SampleStream.Partition(n))
            {
                Assert.Equal(row, start);
                var x = f.Sample(rows, rng).ToDoubleArray();
                for (int i = 0; i < x.Length; i++) Assert.Equal(x[i], t.Values[start * 2 + i]);
                row += rows;
            }
        }
        finally { File.Delete(path); }

        // 64-bit counts: blocks beyond 2³¹ rows are addressed without overflow, and the header carries the full count
        var blocks = SampleStream.Partition(5_000_000_000L).ToList();
        Assert.Equal((5_000_000_000L + SampleStream.BlockRows - 1) / SampleStream.BlockRows, blocks.Count);
        Assert.Equal(5_000_000_000L, blocks[^1].Start + blocks[^1].Rows);
        Assert.Contains("(5000000000, 18)", System.Text.Encoding.Latin1.GetString(SampleStream.NpyHeader(5_000_000_000L, 18)));
        Assert.Equal(0, SampleStream.NpyHeader(1_100_000_000L, 18).Length % 64);
    }

    private static FlowModel<float> ConvertToFloat(FlowModel<double> model)
    {
        var path = Path.Combine(Path.GetTempPath(), $"nflow-conv-{Guid.NewGuid():N}.nflow");
        try
        {
            ModelFile.Save(path, model);
            return ModelFile.Load<float>(path, convert: true);
        }
        finally { File.Delete(path); }
    }
}
