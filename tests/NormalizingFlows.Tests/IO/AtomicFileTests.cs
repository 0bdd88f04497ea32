using NormalizingFlows.IO;

namespace NormalizingFlows.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void WriteViaReplacesTheTargetOrLeavesItAndNoTemporaryBehind()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"atomic-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string target = Path.Combine(dir, "out.bin");
            File.WriteAllText(target, "old");
            AtomicFile.WriteVia(target, tmp => { Assert.NotEqual(target, tmp); Assert.False(File.Exists(tmp)); File.WriteAllText(tmp, "new"); });
            Assert.Equal("new", File.ReadAllText(target));
            Assert.Throws<InvalidOperationException>(() => AtomicFile.WriteVia(target, tmp => { File.WriteAllText(tmp, "half"); throw new InvalidOperationException("boom"); }));
            Assert.Equal("new", File.ReadAllText(target));
            Assert.Equal([target], Directory.GetFiles(dir));
            Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteVia(Path.Combine(dir, "missing", "x.bin"), tmp => File.WriteAllText(tmp, "x")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TheNextWriteRemovesTheTemporaryFilesOfAKilledWriterButNotThoseOfRunningOnes()
    {
        var dir = Directory.CreateTempSubdirectory("atomic-stale-").FullName;
        using var live = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            // a process that ran and is gone: its temporary file is what a kill -9 in mid-write leaves behind
            using var gone = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("true") { UseShellExecute = false })!;
            gone.WaitForExit();
            string target = Path.Combine(dir, "model.nflow");
            string G() => Guid.NewGuid().ToString("N");
            string dead = Path.Combine(dir, $".model.nflow.{gone.Id}.{G()}.tmp");
            string running = Path.Combine(dir, $".model.nflow.{live.Id}.{G()}.tmp");
            string mine = Path.Combine(dir, $".model.nflow.{Environment.ProcessId}.{G()}.tmp");
            string oldStyle = Path.Combine(dir, $".model.nflow.{G()}.tmp");
            string oldFresh = Path.Combine(dir, $".model.nflow.{G()}.tmp");
            string otherTarget = Path.Combine(dir, $".other.nflow.{gone.Id}.{G()}.tmp");
            foreach (var f in new[] { dead, running, mine, oldStyle, oldFresh, otherTarget }) File.WriteAllText(f, "partial");
            File.SetLastWriteTimeUtc(oldStyle, DateTime.UtcNow.AddHours(-2));

            AtomicFile.Write(target, fs => fs.WriteByte(42));

            Assert.Equal([42], File.ReadAllBytes(target));
            Assert.False(File.Exists(dead), "the killed writer's temporary file is removed");
            Assert.False(File.Exists(oldStyle), "an hour-old temporary file without a process id is removed");
            Assert.True(File.Exists(running), "a running process may still be writing");
            Assert.True(File.Exists(mine), "this process may be writing it on another thread");
            Assert.True(File.Exists(oldFresh));
            Assert.True(File.Exists(otherTarget), "only the target's own temporary files are touched");
            Assert.Equal(0, AtomicFile.RemoveStale(target));
        }
        finally
        {
            live.Kill();
            Directory.Delete(dir, recursive: true);
        }
    }
}
