using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;

namespace NormalizingFlows.Tests.Data;

/// <summary>The periodic preprocessing kind: the period mapped onto [−π, π), a constant log|det|, JSON round trip.</summary>
public class PeriodicPreprocessingTests
{
    private static Table Degrees() => new(["az", "x"], [0.0, 1.0, 90.0, 2.0, 359.0, -1.0, 200.0, 0.5], 4);

    [Fact]
    public void PeriodIsMappedOntoTheCircleWithAConstantJacobian()
    {
        var table = Degrees();
        var spec = PreprocessingSpec.Auto(table, periodic: new Dictionary<string, ColumnBounds> { ["az"] = new(0, 360) });
        Assert.Equal(PreprocessingKind.Periodic, spec.Columns[0].Kind);
        Assert.Equal(["periodic"], spec.Columns[0].Chain);
        var pipe = PreprocessingPipeline.Fit<double>(table, spec);
        var (y, ld) = pipe.Forward(new Var<double>(table.ToTensor<double>()));
        double[] expected = [-Math.PI, -Math.PI / 2, Math.PI * 359 / 180 - Math.PI, Math.PI * 200 / 180 - Math.PI];
        for (int r = 0; r < 4; r++) Assert.Equal(expected[r], y.Value[r, 0], 12);
        // log|det| = log(2π/360) for the angle + the x column's own part, taken from a pipeline fitted on x alone
        var xOnly = table.SelectColumns(["x"]);
        var xPipe = PreprocessingPipeline.Fit<double>(xOnly, PreprocessingSpec.Auto(xOnly));
        Assert.Equal(spec.Columns[1].Chain, xPipe.Spec.Columns[0].Chain);
        var (_, ldX) = xPipe.Forward(new Var<double>(xOnly.ToTensor<double>()));
        for (int r = 0; r < 4; r++) Assert.Equal(Math.Log(2 * Math.PI / 360) + ldX.Value[r], ld.Value[r], 12);
        var (back, _) = pipe.Inverse(y);
        for (int i = 0; i < 8; i++) Assert.Equal(table.ToTensor<double>()[i], back.Value[i], 10);
    }

    [Fact]
    public void SpecRoundTripsThroughJsonAndChecksThePeriod()
    {
        var spec = new PreprocessingSpec([new ColumnPreprocessing("phi", PreprocessingKind.Periodic), new ColumnPreprocessing("az", PreprocessingKind.Periodic) { Lower = 0, Upper = 360 }]);
        var back = PreprocessingSpec.FromJson(spec.ToJson());
        Assert.Equal(spec.ToJson(), back.ToJson());
        Assert.Equal((-Math.PI, Math.PI), back.Columns[0].Period);
        Assert.Equal((0.0, 360.0), back.Columns[1].Period);
        Assert.Equal(PreprocessingKind.Periodic, PreprocessingSpec.ParseKind("periodic"));
        var ex = Assert.Throws<ArgumentException>(() => PreprocessingSpec.Auto(Degrees(), periodic: new Dictionary<string, ColumnBounds> { ["az"] = new(0, null) }));
        Assert.Contains("column 'az': a period needs finite ends", ex.Message);
    }

    [Fact]
    public void PeriodsParseWithTheDefaultCircle()
    {
        var p = ColumnBounds.ParsePeriods(["phi1,phi2", "az=0:360"]);
        Assert.Equal(new ColumnBounds(-Math.PI, Math.PI), p["phi1"]);
        Assert.Equal(new ColumnBounds(0, 360), p["az"]);
        Assert.Contains("needs both ends", Assert.Throws<FormatException>(() => ColumnBounds.ParsePeriods(["az=:360"])).Message);
        Assert.Contains("declared periodic twice", Assert.Throws<FormatException>(() => ColumnBounds.ParsePeriods(["az", "az=0:1"])).Message);
    }
}
