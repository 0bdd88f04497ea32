namespace NormalizingFlows.Serialization;

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
    /// disk and renamed onto <paramref name="path"/>; on failure it is deleted.
    /// </summary>
    public static void WriteVia(string path, Action<string> writeTemporary)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(writeTemporary);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: directory '{dir}' does not exist");
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
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
}
