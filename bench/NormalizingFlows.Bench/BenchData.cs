using System.Globalization;
using NormalizingFlows.Data;

namespace NormalizingFlows.Bench;

/// <summary>The benchmark data sets of shared/bench (README.md there), standardised with the training split's statistics.</summary>
internal sealed class BenchData
{
    public required string Name { get; init; }
    public required float[] Train { get; init; }
    public required float[] Test { get; init; }
    public required int TrainRows { get; init; }
    public required int TestRows { get; init; }
    public required int Features { get; init; }

    /// <summary>−Σ log σ_j: added to a log-likelihood of standardised data to express it in raw units.</summary>
    public required double LogJacobian { get; init; }

    public static string Locate(string? explicitDir)
    {
        if (explicitDir is not null)
            return Directory.Exists(explicitDir) ? explicitDir : throw new DirectoryNotFoundException($"--data-dir {explicitDir} does not exist");
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            var dir = new DirectoryInfo(start);
            while (dir is not null)
            {
                foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "bench", "data"), Path.Combine(dir.FullName, "..", "shared", "bench", "data") })
                    if (Directory.Exists(candidate)) return Path.GetFullPath(candidate);
                dir = dir.Parent;
            }
        }
        throw new DirectoryNotFoundException("shared/bench/data not found above the working directory; pass --data-dir");
    }

    /// <summary>
    /// The data set <paramref name="name"/> from <paramref name="dataDir"/>; without <paramref name="withTest"/> (tab18)
    /// the test split is not read (Test is empty): the GPU check carries the training split alone.
    /// </summary>
    public static BenchData Load(string name, string dataDir, bool withTest = true)
    {
        // float32 [rows, d] arrays, streamed (tab18: the file's 36 MB and nothing else, no double table)
        float[] train, test;
        int d, trainRows, testRows;
        switch (name)
        {
            case "moons2d":
            case "checker2d":
            {
                var tr = Csv.Read(Path.Combine(dataDir, $"{name}_train.csv"));
                var te = Csv.Read(Path.Combine(dataDir, $"{name}_test.csv"));
                (train, test, d, trainRows, testRows) = (ToFloat(tr), ToFloat(te), tr.Cols, tr.Rows, te.Rows);
                break;
            }
            case "tab18":
            {
                var tr = Npy.ReadTensor<float>(Path.Combine(dataDir, "tab18_train.npy"));
                var te = withTest ? Npy.ReadTensor<float>(Path.Combine(dataDir, "tab18_test.npy")) : null;
                (train, test, d, trainRows, testRows) = (tr.ReadOnlySpan.ToArray(), te?.ReadOnlySpan.ToArray() ?? [], tr.Dim(1), tr.Dim(0), te?.Dim(0) ?? 0);
                tr.Dispose(); te?.Dispose();
                break;
            }
            default:
                throw new ArgumentException($"unknown data set '{name}' (moons2d, checker2d, tab18)");
        }
        var mean = new double[d];
        var std = new double[d];
        for (int r = 0; r < trainRows; r++) for (int j = 0; j < d; j++) mean[j] += train[r * d + j];
        for (int j = 0; j < d; j++) mean[j] /= trainRows;
        for (int r = 0; r < trainRows; r++) for (int j = 0; j < d; j++) { double e = train[r * d + j] - mean[j]; std[j] += e * e; }
        for (int j = 0; j < d; j++) std[j] = Math.Sqrt(std[j] / trainRows);
        void Standardise(float[] v, int rows)
        {
            for (int r = 0; r < rows; r++) for (int j = 0; j < d; j++) v[r * d + j] = (float)((v[r * d + j] - mean[j]) / std[j]);
        }
        Standardise(train, trainRows);
        Standardise(test, testRows);
        return new BenchData
        {
            Name = name, Train = train, Test = test, TrainRows = trainRows, TestRows = testRows,
            Features = d, LogJacobian = -std.Sum(Math.Log),
        };
    }

    private static float[] ToFloat(Table t)
    {
        var v = new float[t.Rows * t.Cols];
        for (int i = 0; i < v.Length; i++) v[i] = (float)t.Values[i];
        return v;
    }
}

internal static class BenchUtil
{
    /// <summary>Peak resident set size of this process in MB (VmHWM), or null where /proc is missing.</summary>
    public static double? PeakRssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    // "VmHWM:\t  123456 kB": the tab and the padding spaces both separate (from 10 GB on no space is left)
                    return double.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        return null;
    }

    public static string Num(double? v, string format = "G6") => v is { } x && double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "null";

    public static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
