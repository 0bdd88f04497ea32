namespace NormalizingFlows.Hep.Tests;

public class SmokeTests
{
    [Fact]
    public void LibraryLoads() => Assert.Equal("NormalizingFlows.Hep", typeof(NormalizingFlows.Hep.AssemblyInfo).Assembly.GetName().Name);
}
