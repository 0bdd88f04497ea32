using System.Text.RegularExpressions;

namespace NormalizingFlows.Tests.Architecture;

/// <summary>
/// The house rule "lower layers never know about higher ones" as a test: every source file's namespace puts it on a
/// layer, and every namespace it imports (using directives, aliases, fully qualified names) must sit on a lower layer
/// or its own. The layer lists here are the ones README.md's "Layout" section states.
/// </summary>
public class LayeringTests
{
    /// <summary>The library's layers, lowest first (README "Layout"). Sub-namespaces belong to their first segment.</summary>
    internal static readonly string[] LibraryLayers =
        ["Tensors", "Autograd", "Nn", "Optim", "IO", "Distributions", "Transforms", "Flows", "Data", "Training", "Distributed", "Models", "Export"];

    /// <summary>The physics applications' layers, lowest first; applications on one rank must not import each other.</summary>
    internal static readonly string[][] HepLayers =
        [["Evaluation"], ["Reports"], ["Integration"], ["PhaseSpace"], ["Inference", "AnomalyDetection", "Calorimeter"]];

    /// <summary>
    /// Sibling structures inside one layer: they share the parts of their parent namespace (e.g. Transforms' updates,
    /// conditioners, AffineScale) and must not import each other, nor may the parent import them.
    /// </summary>
    internal static readonly string[][] SiblingStructures = [["Transforms.Coupling", "Transforms.Autoregressive"]];

    /// <summary>
    /// The rank of a namespace: the root "NormalizingFlows" (shared helpers) lowest, then the library's layers, then the
    /// root "NormalizingFlows.Hep", the applications, and the CLI on top. Two namespaces with the same rank but different
    /// layers may not import each other (the "group" tells them apart).
    /// </summary>
    internal static (int Rank, string Group)? Layer(string ns)
    {
        string[] parts = ns.Split('.');
        if (parts[0] != "NormalizingFlows") return null;
        if (parts.Length == 1) return (0, "NormalizingFlows");
        int lib = Array.IndexOf(LibraryLayers, parts[1]);
        if (lib >= 0) return (1 + lib, parts[1]);
        int baseRank = 1 + LibraryLayers.Length;
        if (parts[1] == "Hep")
        {
            if (parts.Length == 2) return (baseRank, "Hep");
            for (int r = 0; r < HepLayers.Length; r++)
                if (HepLayers[r].Contains(parts[2])) return (baseRank + 1 + r, "Hep." + parts[2]);
            return (int.MaxValue - 1, "Hep." + parts[2]); // an application namespace the list does not know: flagged below
        }
        if (parts[1] == "Cuda") return (baseRank, "Cuda"); // the GPU backend: above the library, beside the physics applications
        if (parts[1] == "Cli") return (baseRank + 1 + HepLayers.Length, "Cli");
        return (int.MaxValue - 1, parts[1]);
    }

    /// <summary>The layering problems of one source file, one line each ("file: namespace A imports B (layer above)").</summary>
    internal static List<string> Violations(string fileName, string source)
    {
        var problems = new List<string>();
        string code = StripCommentsAndStrings(source);
        var nsMatch = Regex.Match(code, @"^\s*namespace\s+([\w.]+)\s*[;{]", RegexOptions.Multiline);
        if (!nsMatch.Success) { problems.Add($"{fileName}: no namespace declaration"); return problems; }
        string ns = nsMatch.Groups[1].Value;
        var own = Layer(ns);
        if (own is null) return problems;
        if (own.Value.Rank == int.MaxValue - 1) problems.Add($"{fileName}: namespace {ns} is on no layer of README's list");

        var imported = new HashSet<string>();
        foreach (Match m in Regex.Matches(code, @"^\s*(?:global\s+)?using\s+(?:static\s+)?(?:\w+\s*=\s*)?(NormalizingFlows(?:\.\w+)*)", RegexOptions.Multiline))
            imported.Add(m.Groups[1].Value);
        foreach (Match m in Regex.Matches(code, @"(?<![\w.])(NormalizingFlows(?:\.[A-Z]\w*)+)"))
            imported.Add(m.Groups[1].Value);
        foreach (string target in imported)
        {
            var layer = ImportedLayer(target);
            if (layer is null) continue;
            var (rank, group) = layer.Value;
            if (rank > own.Value.Rank || (rank == own.Value.Rank && group != own.Value.Group))
                problems.Add($"{fileName}: namespace {ns} (layer {own.Value.Group}) imports {target} (layer {group}, not below it)");
            else if (SiblingProblem(ns, target) is { } sibling)
                problems.Add($"{fileName}: namespace {ns} imports {target} ({sibling})");
        }
        return problems;
    }

    /// <summary>
    /// Why importing <paramref name="target"/> from <paramref name="ns"/> breaks <see cref="SiblingStructures"/>, or null:
    /// one structure importing a sibling, or the shared parent importing one of its structures.
    /// </summary>
    private static string? SiblingProblem(string ns, string target)
    {
        string? Structure(string name, string[] set) => set.FirstOrDefault(s =>
            name == "NormalizingFlows." + s || name.StartsWith("NormalizingFlows." + s + ".", StringComparison.Ordinal));
        foreach (string[] set in SiblingStructures)
        {
            string? to = Structure(target, set);
            if (to is null) continue;
            string? from = Structure(ns, set);
            if (from is not null && from != to) return $"sibling structure {to} of {from}";
            string parent = "NormalizingFlows." + to[..to.LastIndexOf('.')];
            if (from is null && ns == parent) return $"the shared parts of {parent} may not import its structure {to}";
        }
        return null;
    }

    /// <summary>
    /// The layer of an imported dotted name (a namespace, or a type under one): a name whose second segment is no layer
    /// is a type of the root namespace (e.g. NormalizingFlows.TypeNames), and likewise under NormalizingFlows.Hep.
    /// </summary>
    private static (int Rank, string Group)? ImportedLayer(string dotted)
    {
        var layer = Layer(dotted);
        if (layer is not { Rank: int.MaxValue - 1 }) return layer;
        return dotted.StartsWith("NormalizingFlows.Hep.", StringComparison.Ordinal) ? Layer("NormalizingFlows.Hep") : Layer("NormalizingFlows");
    }

    /// <summary>Removes comments, string and character literals, so that prose naming a namespace is not an import.</summary>
    internal static string StripCommentsAndStrings(string source)
    {
        var re = new Regex(@"//[^\n]*|/\*.*?\*/|@""(?:[^""]|"""")*""|\$?""(?:[^""\\\n]|\\.)*""|'(?:[^'\\\n]|\\.)'", RegexOptions.Singleline);
        return re.Replace(source, m => m.Value.StartsWith("//", StringComparison.Ordinal) || m.Value.StartsWith("/*", StringComparison.Ordinal)
            ? new string('\n', m.Value.Count(c => c == '\n')) : "\"\"");
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NormalizingFlows.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("NormalizingFlows.slnx not found above " + AppContext.BaseDirectory);
    }

    private static IEnumerable<string> SourceFiles(string root) =>
        Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                     && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    [Fact]
    public void NoSourceFileImportsALayerAboveItsOwn()
    {
        string root = RepositoryRoot();
        var files = SourceFiles(root).ToList();
        Assert.True(files.Count > 100, $"found only {files.Count} source files under {root}/src");
        var problems = files.SelectMany(f => Violations(Path.GetRelativePath(root, f), File.ReadAllText(f))).ToList();
        Assert.True(problems.Count == 0, "imports that go up the layer list:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void EveryLibraryFolderIsALayerAndItsNamespace()
    {
        string lib = Path.Combine(RepositoryRoot(), "src", "NormalizingFlows");
        foreach (string dir in Directory.EnumerateDirectories(lib).Select(d => Path.GetFileName(d)!).Where(d => d is not ("bin" or "obj")))
            Assert.Contains(dir, LibraryLayers);
        foreach (string file in Directory.EnumerateFiles(lib, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)))
        {
            string rel = Path.GetRelativePath(lib, Path.GetDirectoryName(file)!);
            string expected = rel == "." ? "NormalizingFlows" : "NormalizingFlows." + rel.Replace(Path.DirectorySeparatorChar, '.');
            string ns = Regex.Match(File.ReadAllText(file), @"^namespace\s+([\w.]+)", RegexOptions.Multiline).Groups[1].Value;
            Assert.True(ns == expected, $"{Path.GetRelativePath(lib, file)} declares namespace {ns}, its folder says {expected}");
        }
    }

    [Fact]
    public void TheReadmeStatesTheSameLayerOrder()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        string expected = "(" + string.Join(" → ", LibraryLayers) + ")";
        Assert.True(readme.Contains(expected, StringComparison.Ordinal), $"README.md's Layout should list the library's layers as {expected}");
    }

    [Theory]
    [InlineData("using NormalizingFlows.Models;\nnamespace NormalizingFlows.Training;\nclass A {}", "imports NormalizingFlows.Models")]
    [InlineData("namespace NormalizingFlows.IO;\nclass A { object f = new NormalizingFlows.Data.Table(); }", "imports NormalizingFlows.Data")]
    [InlineData("using T = NormalizingFlows.Hep.Calorimeter.CaloFlow;\nnamespace NormalizingFlows.Hep.Inference;\nclass A {}", "layer Hep.Calorimeter")]
    [InlineData("using NormalizingFlows.Cli;\nnamespace NormalizingFlows.Hep.Reports;\nclass A {}", "layer Cli")]
    [InlineData("namespace NormalizingFlows.Gadgets;\nclass A {}", "on no layer")]
    [InlineData("using NormalizingFlows.Transforms.Coupling;\nnamespace NormalizingFlows.Transforms.Autoregressive;\nclass A {}", "sibling structure Transforms.Coupling")]
    [InlineData("namespace NormalizingFlows.Transforms.Coupling;\nclass A { object f = NormalizingFlows.Transforms.Autoregressive.MaskedAffineAutoregressive.Create(2); }", "sibling structure Transforms.Autoregressive")]
    [InlineData("using NormalizingFlows.Transforms.Coupling;\nnamespace NormalizingFlows.Transforms;\nclass A {}", "shared parts of NormalizingFlows.Transforms")]
    public void TheCheckCatchesAnUpwardImport(string source, string expected)
    {
        var problems = Violations("planted.cs", source);
        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("using NormalizingFlows.Tensors;\nnamespace NormalizingFlows.Models;\n// NormalizingFlows.Cli does this\nclass A { string s = \"NormalizingFlows.Hep\"; }")]
    [InlineData("using NormalizingFlows.Evaluation;\nusing NormalizingFlows.Models;\nnamespace NormalizingFlows.Hep.Calorimeter;\nclass A {}")]
    [InlineData("using NormalizingFlows.Transforms;\nusing NormalizingFlows.Transforms.Coupling;\nusing NormalizingFlows.Transforms.Autoregressive;\nnamespace NormalizingFlows.Flows;\nclass A {}")]
    [InlineData("using NormalizingFlows.Transforms;\nnamespace NormalizingFlows.Transforms.Coupling;\nclass A {}")]
    public void TheCheckAcceptsDownwardImportsAndProse(string source)
    {
        Assert.Empty(Violations("fine.cs", source.Replace("NormalizingFlows.Evaluation", "NormalizingFlows.Hep.Evaluation", StringComparison.Ordinal)));
    }
}
