using NormalizingFlows.Serialization;

namespace NormalizingFlows.Tests.Serialization;

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
}
