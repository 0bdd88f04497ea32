using System.Text;
using NormalizingFlows.Generators;

// Rewrites every generated *.g.cs file of the repository (run from anywhere inside it):
//     dotnet run --project tools/NormalizingFlows.Generators            writes the files that differ
//     dotnet run --project tools/NormalizingFlows.Generators -- --check  only reports them (exit code 1 when any differ)
bool check = args.Contains("--check");
string root = GeneratedFiles.RepositoryRoot(Directory.GetCurrentDirectory());
int stale = 0;
foreach (var (path, text) in GeneratedFiles.All(root))
{
    string full = Path.Combine(root, path);
    // bytes, as GeneratedCodeTests compares them (ReadAllText would drop a byte-order mark)
    if (File.Exists(full) && File.ReadAllBytes(full).AsSpan().SequenceEqual(new UTF8Encoding(false).GetBytes(text))) { Console.WriteLine($"up to date  {path}"); continue; }
    stale++;
    if (check) { Console.WriteLine($"stale       {path}"); continue; }
    File.WriteAllText(full, text, new UTF8Encoding(false));
    Console.WriteLine($"written     {path}");
}
return check && stale > 0 ? 1 : 0;
