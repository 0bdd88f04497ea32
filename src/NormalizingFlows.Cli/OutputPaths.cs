namespace NormalizingFlows.Cli;

/// <summary>
/// Checks, before a job starts, that each file it will write can be written: not a directory, its folder exists and
/// takes new files, an existing file is not read-only. A long job thus fails in its first second, not at its end.
/// </summary>
internal static class OutputPaths
{
    /// <summary>Throws <see cref="OutputPathException"/> naming <paramref name="option"/> when <paramref name="path"/> cannot be written.</summary>
    public static void Check(string? path, string option)
    {
        if (path is null || path == "-") return; // "-": standard output
        if (path.Length == 0) throw new OutputPathException(option, path, "the path is empty");
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new OutputPathException(option, path, $"not a valid path ({ex.Message})");
        }
        if (Directory.Exists(full)) throw new OutputPathException(option, path, "is a directory; give a file name");
        if (path.EndsWith(Path.DirectorySeparatorChar) || path.EndsWith(Path.AltDirectorySeparatorChar))
            throw new OutputPathException(option, path, "ends with a directory separator; give a file name");
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir))
            throw new OutputPathException(option, path, File.Exists(dir) ? $"'{dir}' is a file, not a directory" : $"the directory '{dir}' does not exist");
        if (File.Exists(full) && new FileInfo(full).IsReadOnly) throw new OutputPathException(option, path, "the file exists and is read-only");
        // the folder must take new files (the atomic writer creates a temporary file beside the target); a probe tells
        // for sure, whatever the permissions, mount flags, ACLs or quotas say
        string probe = Path.Combine(dir, $".nflow-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        try
        {
            using var fs = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new OutputPathException(option, path, $"cannot create files in '{dir}' ({ex.Message.TrimEnd('.')})");
        }
    }

    /// <summary>
    /// One call per output: first <see cref="Check(string?, string)"/> (can the file be written; exit 1), then
    /// <paramref name="format"/> (does the extension name a format we write, e.g. <see cref="DataIo.CheckTableOutput"/>; exit 2).
    /// </summary>
    public static void Check(string? path, string option, Action<string, string> format)
    {
        Check(path, option);
        if (path is not null) format(path, option);
    }

    /// <summary>Checks several (option, path) pairs and that no two name the same file.</summary>
    public static void CheckAll(params (string Option, string? Path)[] outputs)
    {
        foreach (var (option, path) in outputs) Check(path, option);
        var seen = new Dictionary<string, string>(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        foreach (var (option, path) in outputs)
        {
            if (path is null || path == "-") continue;
            string full = Path.GetFullPath(path);
            if (seen.TryGetValue(full, out var other)) throw new OutputPathException(option, path, $"is also the {other} file; give two different files");
            seen[full] = option;
        }
    }
}

/// <summary>An output path that cannot be written; the message names the option and the reason. Exit code 1.</summary>
internal sealed class OutputPathException(string option, string path, string reason) : IOException($"{option} {path}: {reason}")
{
    public string Option { get; } = option;
}
