using System.Text.RegularExpressions;
using NormalizingFlows.Data;
using NormalizingFlows.Hep.Integration;

namespace NormalizingFlows.Cli.Tests;

/// <summary>
/// docs/cluster.md's batch scripts, run as a batch system would with K = 3 shards and small sizes: the training line
/// (without its MPI launcher), every array task's nflow lines, then the merge script's.
/// </summary>
public class ClusterRecipeTests
{
    /// <summary>What the test sets instead of the scripts' production sizes.</summary>
    private static readonly Dictionary<string, string> Small = new()
    {
        ["K"] = "3", ["N"] = "3000", ["CALLS"] = "30000", ["EVENTS"] = "1500", ["EPOCHS"] = "1", ["SLURM_CPUS_PER_TASK"] = "0",
    };

    /// <summary>The ```bash blocks of docs/cluster.md: their variable assignments and their nflow command lines.</summary>
    private static List<(Dictionary<string, string> Variables, List<string> Lines)> Scripts()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NormalizingFlows.slnx"))) dir = dir.Parent;
        string doc = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "cluster.md"));
        var scripts = new List<(Dictionary<string, string>, List<string>)>();
        foreach (Match block in Regex.Matches(doc, "```bash\n(.*?)```", RegexOptions.Singleline))
        {
            var vars = new Dictionary<string, string>();
            var lines = new List<string>();
            foreach (string raw in block.Groups[1].Value.Split('\n'))
            {
                string line = raw.Trim();
                if (Regex.Match(line, @"^([A-Za-z_]+)=(\S+)$") is { Success: true } m) vars[m.Groups[1].Value] = m.Groups[2].Value;
                else if (Regex.Match(line, @"(?:^|\s)(nflow\s.*)$") is { Success: true } n) lines.Add(n.Groups[1].Value);
            }
            if (lines.Count > 0) scripts.Add((vars, lines));
        }
        return scripts;
    }

    /// <summary>The line's arguments with $NAME and ${NAME} replaced, file names put in the sandbox and globs expanded.</summary>
    private static string[] Arguments(string line, IReadOnlyDictionary<string, string> vars, CliSandbox s)
    {
        string expanded = Regex.Replace(line, @"\$\{?([A-Za-z_]+)\}?", m => vars.TryGetValue(m.Groups[1].Value, out var v) ? v
            : throw new InvalidOperationException($"docs/cluster.md: '{line}' uses ${m.Groups[1].Value}, which its script does not set"));
        var args = new List<string>();
        foreach (string token in expanded.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            if (token == "--distributed") continue;   // the launcher is gone: one process
            if (token.Contains('*')) args.AddRange(Directory.GetFiles(s.Dir, token).Order(StringComparer.Ordinal));
            else if (Regex.IsMatch(token, @"^[\w.]+\.(csv|npy|json|nflow)$")) args.Add(s[token]);
            else args.Add(token);
        }
        return [.. args];
    }

    [Fact]
    public void TheScriptsCommandsRunWithThreeShardsAndMerge()
    {
        var scripts = Scripts();
        var train = Assert.Single(scripts, x => x.Lines.Any(l => l.Contains("--distributed")));
        var arrays = scripts.Where(x => x.Lines.Any(l => l.Contains("--shard $k/$K"))).ToList();
        var merge = Assert.Single(scripts, x => x.Lines.All(l => l.StartsWith("nflow merge", StringComparison.Ordinal)));
        Assert.Equal(2, arrays.Count);   // the Slurm array and HTCondor's shard.sh run the same commands
        Assert.Equal(arrays[0].Lines, arrays[1].Lines);
        Assert.Equal("$SLURM_ARRAY_TASK_ID", arrays[0].Variables["k"]);
        Assert.Equal("$1", arrays[1].Variables["k"]);

        using var s = new CliSandbox();
        void Run(string line, Dictionary<string, string> vars)
        {
            var (code, output, err) = s.Run(Arguments(line, vars, s));
            Assert.True(code == 0, $"{line}: {err}{output}");
        }
        Dictionary<string, string> With(Dictionary<string, string> script, int? k = null)
        {
            var vars = new Dictionary<string, string>(script);
            foreach (var (name, value) in Small) vars[name] = value;
            if (k is { } shard) vars["k"] = shard.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return vars;
        }

        Assert.Equal(0, s.Run("toy", "moons", "-n", "2000", "-o", s["data.csv"], "--seed", "1").Code);
        foreach (var line in train.Lines) Run(line, With(train.Variables));
        for (int k = 0; k < 3; k++)
            foreach (var line in arrays[0].Lines) Run(line, With(arrays[0].Variables, k));
        foreach (var line in merge.Lines) Run(line, With(merge.Variables));

        Assert.Equal(3000, Npy.Read(s["events.npy"]).Rows);
        var integral = IntegrationShardResult.Read(s["integral.json"]);
        Assert.Equal("ee-qqg", integral.Integrand);
        Assert.Equal(15, integral.Iterations.Count);   // 3 shards × 5 iterations
        var u = Npy.Read(s["unweighted.npy"]);
        Assert.InRange(u.Rows, 1, 1500);
        Assert.All(Enumerable.Range(0, u.Rows), i => Assert.True(u[i, u.Cols - 1] >= 1));
    }
}
