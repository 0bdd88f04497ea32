using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.Tensors;

public class RngTests
{
    [Fact]
    public void SameSeedSameBitsDifferentSeedDifferentBits()
    {
        var a = new Rng(42); var b = new Rng(42); var c = new Rng(43);
        bool anyDiff = false;
        for (int i = 0; i < 100; i++)
        {
            ulong x = a.NextUInt64();
            Assert.Equal(x, b.NextUInt64());
            anyDiff |= x != c.NextUInt64();
        }
        Assert.True(anyDiff);
    }

    [Fact]
    public void UniformMomentsAndRange()
    {
        var r = new Rng(1);
        var x = new float[200_000];
        r.Uniform<float>(x, -1, 3);
        double m = 0, v = 0;
        foreach (var e in x) { Assert.InRange(e, -1f, 3f); Assert.True(e < 3f); m += e; }
        m /= x.Length;
        foreach (var e in x) v += (e - m) * (e - m);
        v /= x.Length;
        Assert.InRange(m, 1 - 0.01, 1 + 0.01);          // mean 1, sd of mean ≈ 0.0026
        Assert.InRange(v, 16.0 / 12 * 0.98, 16.0 / 12 * 1.02);
    }

    [Fact]
    public void NormalMomentsAndTails()
    {
        var r = new Rng(7);
        var x = new double[400_000];
        r.Normal<double>(x);
        double m = x.Average();
        double v = x.Select(e => (e - m) * (e - m)).Average();
        double k = x.Select(e => Math.Pow((e - m), 4)).Average() / (v * v);
        double beyond2 = x.Count(e => Math.Abs(e) > 2) / (double)x.Length;
        Assert.InRange(m, -0.006, 0.006);
        Assert.InRange(v, 0.99, 1.01);
        Assert.InRange(k, 2.95, 3.05);
        Assert.InRange(beyond2, 0.0455 - 0.002, 0.0455 + 0.002); // P(|z| > 2) = 0.0455
    }

    [Fact]
    public void NextIntIsUnbiasedAndInRange()
    {
        var r = new Rng(3);
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[r.NextInt(7)]++;
        double chi2 = counts.Sum(c => (c - 10_000.0) * (c - 10_000.0) / 10_000.0);
        Assert.True(chi2 < 22.5, $"chi2 = {chi2}"); // 6 dof, p = 0.001
        Assert.Throws<ArgumentOutOfRangeException>(() => r.NextInt(0));
    }

    [Fact]
    public void PermutationIsAPermutationAndSplitStreamsDiffer()
    {
        var r = new Rng(11);
        var p = r.Permutation(1000);
        Assert.Equal(Enumerable.Range(0, 1000), p.OrderBy(v => v));
        Assert.NotEqual(Enumerable.Range(0, 1000), p);
        var s1 = r.Split(); var s2 = r.Split();
        Assert.NotEqual(s1.NextUInt64(), s2.NextUInt64());
    }

    [Fact]
    public void JumpMatchesTheXoshiroReferenceCode()
    {
        // values printed by the xoshiro256** reference C code (next, jump) from the SplitMix64 state of seed 42
        var r = new Rng(42L);
        Assert.Equal(0x15780B2E0C2EC716UL, r.NextUInt64());
        r.Jump();
        Assert.Equal(0xBA285EC21347D703UL, r.NextUInt64());
        r.Jump(2);
        Assert.Equal(0x94BB1464B9EEB5FBUL, r.NextUInt64());
    }

    [Theory]
    [InlineData(0UL), InlineData(1UL), InlineData(2UL), InlineData(63UL), InlineData(64UL), InlineData(255UL), InlineData(256UL), InlineData(100_003UL)]
    public void SkipEqualsThatManyDraws(ulong draws)
    {
        var skipped = new Rng(42L); var drawn = new Rng(42L);
        skipped.NextNormal(); drawn.NextNormal(); // a cached normal is dropped, as by Jump
        skipped.Skip(draws);
        for (ulong i = 0; i < draws; i++) drawn.NextUInt64();
        for (int i = 0; i < 8; i++) Assert.Equal(drawn.NextUInt64(), skipped.NextUInt64());
    }

    [Fact]
    public void SkipComposesAndAgreesWithTheJumpPolynomial()
    {
        ulong a = (1UL << 40) + 17, b = (1UL << 50) + 12345;
        var twice = new Rng(3L); var once = new Rng(3L);
        twice.Skip(a); twice.Skip(b);
        once.Skip(a + b);
        Assert.Equal(once.NextUInt64(), twice.NextUInt64());
        // x^(2^128) modulo the characteristic polynomial is the reference code's jump polynomial
        var p = Gf2Polynomial.PowerOfX(1UL << 63);
        for (int k = 63; k < 128; k++) p = Gf2Polynomial.MultiplyMod(p, p);
        Assert.Equal([0x180EC6D33CFD0ABAUL, 0xD5A61266F0C9392CUL, 0xA9582618E03FC9AAUL, 0x39ABDC4529B1661CUL], new[] { p[0], p[1], p[2], p[3] });
    }

    [Fact]
    public void StreamZeroIsTheSeedsOwnSequenceAndOtherStreamsDiffer()
    {
        var plain = new Rng(9L);
        var s0 = Rng.Stream(9, 0);
        for (int i = 0; i < 50; i++) Assert.Equal(plain.NextUInt64(), s0.NextUInt64());
        var first = Enumerable.Range(0, 4).Select(k => Rng.Stream(9, k).NextUInt64()).ToArray();
        Assert.Equal(4, first.Distinct().Count());
        Assert.Equal(first[3], Rng.Stream(9, 3).NextUInt64());   // reproducible
        // a cached normal must not leak into the jumped stream: with and without one, the same state jumps alike
        var cached = new Rng(9L);
        cached.NextNormal();
        var used = new Rng(9L);
        used.NextNormal();
        used.NextNormal();   // the cached value, no draw
        cached.Jump();
        used.Jump();
        Assert.Equal(used.NextNormal(), cached.NextNormal());
        Assert.Throws<ArgumentOutOfRangeException>(() => Rng.Stream(9, -1));
    }

    [Fact]
    public void ShardSharesAddUpAndParseChecksTheText()
    {
        for (int k = 1; k <= 5; k++)
            foreach (long total in new long[] { 0, 1, 7, 10, 1_000_003 })
            {
                long sum = 0;
                for (int i = 0; i < k; i++) { long s = new Shard(i, k).Share(total); Assert.InRange(s, total / k, total / k + 1); sum += s; }
                Assert.Equal(total, sum);
            }
        Assert.Equal(new Shard(2, 3), Shard.Parse("2/3"));
        Assert.Equal("2/3", new Shard(2, 3).ToString());
        Assert.Equal(Shard.Whole.Rng(5).NextUInt64(), new Rng(5L).NextUInt64());
        foreach (var bad in new[] { "3/3", "1", "-1/3", "a/b", "1/0", "1/3/4", " 1/3" })
            Assert.Contains($"'{bad}'", Assert.Throws<FormatException>(() => Shard.Parse(bad)).Message);
    }
}
