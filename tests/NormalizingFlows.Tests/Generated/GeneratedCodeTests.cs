using System.Text;
using NormalizingFlows.Generators;

namespace NormalizingFlows.Tests.Generated;

/// <summary>
/// The generated *.g.cs files are what tools/NormalizingFlows.Generators writes today, byte for byte: a hand edit of a
/// generated file, or a generator (or generic section) changed without rerunning it, fails here.
/// </summary>
public class GeneratedCodeTests
{
    private const string Rerun = "rerun `dotnet run --project tools/NormalizingFlows.Generators` from the repository root";

    private static string Root => GeneratedFiles.RepositoryRoot(AppContext.BaseDirectory);

    [Fact]
    public void EveryGeneratedFileIsWhatItsGeneratorWrites()
    {
        string root = Root;
        foreach (var (path, text) in GeneratedFiles.All(root))
        {
            string full = Path.Combine(root, path);
            Assert.True(File.Exists(full), $"{path} is missing: {Rerun}");
            byte[] expected = new UTF8Encoding(false).GetBytes(text), actual = File.ReadAllBytes(full);
            int at = 0;
            while (at < Math.Min(expected.Length, actual.Length) && expected[at] == actual[at]) at++;
            Assert.True(at == expected.Length && at == actual.Length,
                $"{path} differs from its generator's output at byte {at} (line {1 + actual.Take(at).Count(b => b == (byte)'\n')}): {Rerun}");
        }
    }

    [Fact]
    public void EveryGeneratedSourceFileHasAGenerator()
    {
        string root = Root;
        var known = GeneratedFiles.All(root).Select(f => f.Path).ToHashSet();
        var found = Directory.EnumerateFiles(Path.Combine(root, "src"), "*.g.cs", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal))
            .ToList();
        Assert.Equal(known.Count, found.Count);
        Assert.All(found, f => Assert.Contains(f, known));
    }

    [Fact]
    public void TheSplineKernelsAreTheAvx2SectionOnVector512()
    {
        const string source = "using V = Vector256<float>;\n    class K\n    {\n        // <generic> note\n\n        static V F(Vector256<double> d) => V.One;\n\n        // </generic>\n    }\n";
        string text = SplineAvx512Generator.Generate(source.Replace("\n", "\r\n"));
        Assert.Contains("\n        static V F(Vector512<double> d) => V.One;\n    }\n}\n", text);
        Assert.DoesNotContain("Vector256", text[text.IndexOf("namespace", StringComparison.Ordinal)..]);
        Assert.DoesNotContain("// <generic> note", text);
        Assert.DoesNotContain("// </generic>", text);
        Assert.DoesNotContain('\r', text);
    }

    [Fact]
    public void TheSplineGeneratorNamesTheSourceWhenItsMarkersAreMissing()
    {
        var e = Assert.Throws<InvalidOperationException>(() => SplineAvx512Generator.Generate("class K { }"));
        Assert.Contains(SplineAvx512Generator.SourcePath, e.Message);
    }

    [Fact]
    public void TheGemmKernelsAreUnrolledFmaTiles()
    {
        string text = GemmMicroKernelsGenerator.Generate();
        // one method per tile, the 6×16 AVX2 tile accumulating 12 registers with FMA over 4 unrolled k steps
        Assert.Equal(18, text.Split("[MethodImpl(MethodImplOptions.AggressiveOptimization)]").Length - 1);
        Assert.Contains("internal static void F32Avx512_12x32DirectBiasRelu(nint kc, float* a, nint lda, float* b, float* c, nint rsc, float* bias)", text);
        Assert.Contains("internal static void F32Avx2_6x16(nint kc, float* a, float* b, float* c, nint rsc, float alpha, float beta)", text);
        Assert.Contains("c51 = Fma.MultiplyAdd(av5, b1, c51);", text);
        Assert.Contains("a += 24; b += 4 * 16;", text);
        Assert.Contains("nint w = Vector<double>.Count;", text);
    }
}
