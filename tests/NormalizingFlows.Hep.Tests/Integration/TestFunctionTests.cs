using NormalizingFlows.Hep.Integration;

namespace NormalizingFlows.Hep.Tests.Integration;

public class TestFunctionTests
{
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.5, 0.9995930479825550)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(-1.5, -0.9661051464753108)]
    public void Erf_MatchesTabulatedValues(double x, double expected) =>
        Assert.Equal(expected, SpecialFunctions.Erf(x), 14);

    [Fact]
    public void GaussKronrod_IntegratesSmoothAndKinkedFunctions()
    {
        var (v, e) = AdaptiveQuadrature.Integrate(Math.Exp, 0, 1);
        Assert.Equal(Math.E - 1, v, 12);
        Assert.True(e < 1e-9);
        var (k, _) = AdaptiveQuadrature.Integrate(x => Math.Abs(x - 0.3), 0, 1, 1e-13, 1e-12);
        Assert.Equal(0.5 * (0.3 * 0.3 + 0.7 * 0.7), k, 10);
    }

    [Theory]
    [InlineData("gaussian")]
    [InlineData("camel")]
    [InlineData("polynomial")]
    public void AnalyticValues_AgreeWithQuadratureIn2D(string name)
    {
        var f = IntegrandCatalog.Create(name, 2);
        var values = new double[1];
        var (q, err) = AdaptiveQuadrature.Integrate2D((x, y) => { f.Evaluate([x, y], values); return values[0]; }, 0, 1, 0, 1, 1e-12, 1e-10);
        Assert.True(err < 1e-8, $"quadrature error {err}");
        Assert.Equal(f.AnalyticValue!.Value, q, 8);
    }

    [Fact]
    public void AnalyticValues_FactoriseOverDimensions()
    {
        foreach (int d in new[] { 2, 4, 8, 16 })
        {
            Assert.Equal(Math.Pow(new GaussianIntegrand(1).AnalyticValue!.Value, d), new GaussianIntegrand(d).AnalyticValue!.Value, 12);
            Assert.Equal(Math.Pow(new CamelIntegrand(1).AnalyticValue!.Value, d), new CamelIntegrand(d).AnalyticValue!.Value, 12);
            Assert.Equal(d / 6.0, new PolynomialIntegrand(d).AnalyticValue!.Value, 12);
        }
        // 1-D camel value checked by quadrature
        var (c1, _) = AdaptiveQuadrature.Integrate(x => { var v = new double[1]; new CamelIntegrand(1).Evaluate([x], v); return v[0]; }, 0, 1);
        Assert.Equal(new CamelIntegrand(1).AnalyticValue!.Value, c1, 12);
    }

    [Fact]
    public void EntangledCircles_ReferenceMatchesIFlowValue()
    {
        var (v, err) = new EntangledCirclesIntegrand().ComputeReference();
        Assert.True(err < 1e-8 * 1e-2 + 1e-10, $"quadrature error {err}");
        // i-flow (arXiv:2001.05486) quotes 0.0136848(1)
        Assert.InRange(v, 0.0136847, 0.0136849);
    }

    [Fact]
    public void Annulus_QuadratureReproducesClosedForm()
    {
        var f = new AnnulusIntegrand();
        var (v, err) = f.ComputeReference();
        Assert.True(err < 1e-8, $"quadrature error {err}");
        Assert.Equal(f.AnalyticValue!.Value, v, 8);
    }

    [Fact]
    public void ScalarBox_ReferenceAgreesWithAnotherSimplexParametrisation()
    {
        var box = new ScalarBoxIntegrand();
        var (v, err) = box.ComputeReference();
        Assert.True(err < 1e-7 * v, $"quadrature error {err}");
        // the same Feynman-parameter integral with the simplex peeled off in the reverse order (a4 first): F is
        // symmetric under (a1, a2, a3, a4) → (a4, a3, a2, a1) with s, t fixed, so this checks the mapping, its Jacobian
        // and the quadrature against a different integrand on the cube
        static double Reversed(double x1, double x2, double x3)
        {
            double a4 = x1, r1 = 1 - x1, a3 = r1 * x2, r2 = r1 * (1 - x2), a2 = r2 * x3, a1 = r2 * (1 - x3);
            double f = 3 * a1 * a3 + 2 * a2 * a4 + (a1 * a2 + a2 * a3 + a3 * a4 + a4 * a1) + 0.1;
            return r1 * r1 * (1 - x2) / (f * f);
        }
        var (w, _) = AdaptiveQuadrature.Integrate3D(Reversed, 0, 1, 0, 1, 0, 1, 1e-11, 1e-9);
        Assert.Equal(v, w, 7);
        Assert.True(v > 0.1 && v < 10);
    }

    [Fact]
    public void Catalog_RegistersLooksUpAndRejects()
    {
        IntegrandCatalog.Register("test-const", d => new PolynomialIntegrand(d ?? 3), "test");
        Assert.True(IntegrandCatalog.TryCreate("TEST-CONST", null, out var f));
        Assert.Equal(3, f.Dimensions);
        Assert.Contains("test-const", IntegrandCatalog.Names);
        Assert.False(IntegrandCatalog.TryCreate("no-such-function", 2, out _));
        var ex = Assert.Throws<ArgumentException>(() => IntegrandCatalog.Create("no-such-function"));
        Assert.Contains("camel", ex.Message);
        Assert.Throws<ArgumentException>(() => IntegrandCatalog.Create("circles", 3));
        Assert.Equal(2, IntegrandCatalog.Create("circles").Dimensions);
        Assert.Equal(new AnnulusIntegrand().AnalyticValue, IntegrandCatalog.Reference(new AnnulusIntegrand()));
    }

    [Fact]
    public void Evaluate_RejectsMismatchedLengths()
    {
        var f = new CamelIntegrand(3);
        Assert.Throws<ArgumentException>(() => f.Evaluate(new double[5], new double[2]));
    }
}
