using NormalizingFlows.Hep.PhaseSpace;

namespace NormalizingFlows.Hep.Tests.PhaseSpace;

public class PhysicsProcessesTests
{
    [Theory]
    [InlineData("ee-mumu", 2)]
    [InlineData("EE-MUMU", 2)]
    [InlineData("ee-mumu-rambo", 8)]
    [InlineData("ee-qqg", 6)]
    [InlineData("ee-qqg-rambo", 12)]
    public void NamesCreateTheProcessesWithTheirDimensions(string name, int dimensions)
    {
        Assert.True(PhysicsProcesses.TryCreate(name, out var process));
        Assert.Equal(dimensions, process.Dimensions);
        Assert.Equal(91.2, process.SqrtS);
        Assert.NotNull(process.AnalyticValue);
        Assert.StartsWith(name.ToLowerInvariant()[..6], process.Name);
        var values = new double[3];
        var x = new double[3 * dimensions];
        Array.Fill(x, 0.4);
        process.Evaluate(x, values);
        Assert.All(values, v => Assert.True(v >= 0 && double.IsFinite(v)));
    }

    [Fact]
    public void OptionsReachTheProcess()
    {
        var options = new PhysicsProcessOptions { SqrtS = 60, YCut = 0.05, Flavours = 4 };
        var process = (EeToQqgProcess)PhysicsProcesses.Create("ee-qqg", options);
        Assert.Equal(60, process.SqrtS);
        Assert.Equal(0.05, process.YCut);
        Assert.Equal(4, process.Quarks.Count);
        Assert.Equal(EeAnnihilation.QqgDalitzCrossSection(60, 0.05, Fermion.Quarks(4), StandardModelParameters.Default), process.AnalyticValue);
        Assert.Contains("y_ij > 0.05", process.Description);
    }

    [Fact]
    public void UnknownNamesAndBadOptionsAreRejected()
    {
        Assert.False(PhysicsProcesses.TryCreate("ee-tautau", out _));
        // options belong to the physics processes: another name is simply not one, whatever √s says
        Assert.False(PhysicsProcesses.TryCreate("camel", new PhysicsProcessOptions { SqrtS = -1 }, out _));
        var ex = Assert.Throws<ArgumentException>(() => PhysicsProcesses.Create("pp-ttbar"));
        Assert.Contains("ee-qqg", ex.Message);
        Assert.Throws<ArgumentException>(() => PhysicsProcesses.Create("ee-qqg", new PhysicsProcessOptions { YCut = 0 }));
        Assert.Throws<ArgumentException>(() => PhysicsProcesses.Create("ee-qqg", new PhysicsProcessOptions { Flavours = 6 }));
        Assert.Throws<ArgumentException>(() => PhysicsProcesses.Create("ee-mumu", new PhysicsProcessOptions { SqrtS = -1 }));
        Assert.Throws<ArgumentException>(() => new EeToMuMuProcess().Evaluate(new double[5], new double[2]));
    }
}
