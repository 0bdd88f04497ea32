namespace NormalizingFlows.Generators;

/// <summary>Every generated file of the repository and the text its generator gives for it today.</summary>
public static class GeneratedFiles
{
    /// <summary>(path relative to the repository root, expected text) for each generated file.</summary>
    public static IEnumerable<(string Path, string Text)> All(string root)
    {
        yield return (GemmMicroKernelsGenerator.RelativePath, GemmMicroKernelsGenerator.Generate());
        string source = Path.Combine(root, SplineAvx512Generator.SourcePath);
        yield return (SplineAvx512Generator.RelativePath, SplineAvx512Generator.Generate(File.ReadAllText(source)));
        for (int i = 0; i < VectorMathAvx512Generator.Files.Length; i++)
        {
            var f = VectorMathAvx512Generator.Files[i];
            yield return (f.Generated, VectorMathAvx512Generator.Generate(File.ReadAllText(Path.Combine(root, f.Source)), i));
        }
    }

    /// <summary>The nearest folder at or above <paramref name="start"/> that holds NormalizingFlows.slnx.</summary>
    public static string RepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NormalizingFlows.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException($"NormalizingFlows.slnx not found at or above {start}");
    }
}
