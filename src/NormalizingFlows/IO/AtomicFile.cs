namespace NormalizingFlows.IO;

/// <summary>
/// Writes files so that an interrupted write never destroys a good one: the content goes to a temporary file in the
/// same directory, is flushed to disk, and then replaces the target in one rename.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, atomically.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        WriteVia(path, tmp =>
        {
            using var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            write(fs);
        });
    }

    /// <summary>
    /// Writes <paramref name="path"/> atomically through a writer that needs a file name (a native library, say):
    /// <paramref name="writeTemporary"/> creates and closes the temporary file it is given, which is then flushed to
    /// disk and renamed onto <paramref name="path"/>; on failure it is deleted. The temporary file
    /// (".NAME.PID.RANDOM.tmp" beside the target) carries the writer's process id, so one left behind by a process
    /// that was killed mid-write is deleted by the next write of the same target (see <see cref="RemoveStale"/>).
    /// </summary>
    public static void WriteVia(string path, Action<string> writeTemporary)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(writeTemporary);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: directory '{dir}' does not exist");
        RemoveStale(full);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            writeTemporary(tmp);
            using (var fs = new FileStream(tmp, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) fs.Flush(flushToDisk: true);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>
    /// Deletes the temporary files of <paramref name="path"/> that a killed writer left behind: those whose process
    /// (the id in their name) no longer runs, and, from versions without the id, those untouched for an hour. Files of
    /// running processes are kept (they may be writing now). Returns how many were deleted.
    /// </summary>
    public static int RemoveStale(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        string prefix = "." + Path.GetFileName(full) + ".";
        if (!Directory.Exists(dir)) return 0;
        int removed = 0;
        IEnumerable<string> candidates;
        try { candidates = Directory.EnumerateFiles(dir, "*.tmp").ToList(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return 0; }
        foreach (string file in candidates)
        {
            string name = Path.GetFileName(file);
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var middle = name[prefix.Length..^".tmp".Length].Split('.');
            bool stale = middle switch
            {
                [var pid, { Length: 32 }] when int.TryParse(pid, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) =>
                    id != Environment.ProcessId && !ProcessRuns(id),
                [{ Length: 32 } guid] when Guid.TryParseExact(guid, "N", out _) => File.GetLastWriteTimeUtc(file) < DateTime.UtcNow.AddHours(-1),
                _ => false,
            };
            if (!stale) continue;
            try { File.Delete(file); removed++; }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
        return removed;
    }

    private static bool ProcessRuns(int id)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{id}");
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(id);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
