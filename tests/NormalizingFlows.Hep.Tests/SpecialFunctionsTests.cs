namespace NormalizingFlows.Hep.Tests;

public class SpecialFunctionsTests
{
    [Fact]
    public void IncompleteGammaMatchesClosedFormsAndIsComplementary()
    {
        // a = 1: P = 1 − e^−x; a = 1/2: P = erf(√x); P + Q = 1 on both sides of the series / continued-fraction switch
        foreach (double x in new[] { 1e-8, 0.1, 0.9, 1.5, 3, 10, 40 })
        {
            Assert.Equal(OneMinusExpNeg(x), SpecialFunctions.RegularizedGammaP(1, x), 12);
            Assert.Equal(SpecialFunctions.Erf(Math.Sqrt(x)), SpecialFunctions.RegularizedGammaP(0.5, x), 12);
            foreach (double a in new[] { 0.3, 2.5, 7 })
                Assert.Equal(1.0, SpecialFunctions.RegularizedGammaP(a, x) + SpecialFunctions.RegularizedGammaQ(a, x), 12);
        }
        // small P keeps its relative accuracy: P(1, 1e−8) = 1e−8 − 5e−17
        Assert.Equal(1.0, SpecialFunctions.RegularizedGammaP(1, 1e-8) / OneMinusExpNeg(1e-8), 12);
        Assert.Equal(0.0, SpecialFunctions.RegularizedGammaP(3, 0));
        Assert.Equal(1.0, SpecialFunctions.RegularizedGammaQ(3, -1));
    }

    // 1 − e^−x to full relative accuracy (series below 1e−3; double.ExpM1 is not accurate there)
    private static double OneMinusExpNeg(double x) => x < 1e-3 ? x * (1 - x / 2 * (1 - x / 3 * (1 - x / 4))) : 1 - Math.Exp(-x);

    [Fact]
    public void LogGammaAndChiSquareTailMatchKnownValues()
    {
        Assert.Equal(Math.Log(120), SpecialFunctions.LogGamma(6), 13);
        Assert.Equal(0.5 * Math.Log(Math.PI), SpecialFunctions.LogGamma(0.5), 13);
        Assert.Equal(0.05, SpecialFunctions.ChiSquareSurvival(3.841458820694124, 1), 9);
        Assert.Equal(0.05, SpecialFunctions.ChiSquareSurvival(16.918977604620448, 9), 9);
        Assert.Equal(0.01, SpecialFunctions.ChiSquareSurvival(36.19086912927004, 19), 9);
        Assert.Equal(Math.Exp(-1), SpecialFunctions.ChiSquareSurvival(2, 2), 12);
        Assert.Equal(1.0, SpecialFunctions.ChiSquareSurvival(0, 5));
        Assert.True(double.IsNaN(SpecialFunctions.ChiSquareSurvival(double.NaN, 3)));
    }
}
