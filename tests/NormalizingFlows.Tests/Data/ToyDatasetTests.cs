using NormalizingFlows.Data;

namespace NormalizingFlows.Tests.Data;

public class ToyDatasetTests
{
    [Theory]
    [InlineData("moons")]
    [InlineData("circles")]
    [InlineData("8gaussians")]
    [InlineData("checkerboard")]
    [InlineData("pinwheel")]
    [InlineData("swissroll")]
    [InlineData("2spirals")]
    [InlineData("tab18")]
    public void DeterministicFiniteAndSeedDependent(string name)
    {
        var a = ToyDatasets.Generate(name, 500, seed: 3);
        var b = ToyDatasets.Generate(name, 500, seed: 3);
        var c = ToyDatasets.Generate(name, 500, seed: 4);
        Assert.Equal(a.Values, b.Values);
        Assert.NotEqual(a.Values, c.Values);
        Assert.All(a.Values, v => Assert.True(double.IsFinite(v)));
        Assert.Equal(name == "tab18" ? 18 : 2, a.Cols);
    }

    [Fact]
    public void CheckerboardIsUniformOnTheEightDarkSquares()
    {
        var t = ToyDatasets.Generate("checkerboard", 40_000, seed: 1);
        var counts = new int[4, 4];
        for (int i = 0; i < t.Rows; i++)
        {
            double x = t[i, 0], y = t[i, 1];
            Assert.InRange(x, -4, 4);
            Assert.InRange(y, -4, 4);
            int cx = (int)Math.Floor((x + 4) / 2), cy = (int)Math.Floor((y + 4) / 2);
            counts[Math.Min(cx, 3), Math.Min(cy, 3)]++;
        }
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
            {
                bool dark = (i + j) % 2 == 0; // FFJORD's pattern: the bottom-left square is filled
                if (dark) Assert.InRange(counts[i, j], 5000 - 400, 5000 + 400);
                else Assert.Equal(0, counts[i, j]);
            }
    }

    [Fact]
    public void Tab18ColumnsHaveTheirPhysicalRanges()
    {
        var t = ToyDatasets.Generate("tab18", 5000, seed: 2);
        Assert.Equal(ToyDatasets.Tab18Columns, t.Columns);
        for (int i = 0; i < t.Rows; i++)
        {
            for (int j = 0; j < 4; j++) Assert.True(t[i, j] >= (j < 2 ? 15 : 10));
            for (int j = 4; j < 8; j++) Assert.InRange(t[i, j], -2.5, 2.5);
            for (int j = 8; j < 12; j++) Assert.InRange(t[i, j], -Math.PI, Math.PI);
            for (int j = 12; j < 15; j++) Assert.True(t[i, j] >= 0.5);
        }
    }

    [Fact]
    public void UnknownNameListsTheChoices()
    {
        var ex = Assert.Throws<ArgumentException>(() => ToyDatasets.Generate("blobs", 10));
        Assert.Contains("moons", ex.Message);
    }
}
