using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>The vectorised float path of the affine op agrees with the double reference, values and gradients.</summary>
public class AffineCouplingOpFloatPathTests
{
    public static TheoryData<string, bool, int> Cases()
    {
        var d = new TheoryData<string, bool, int>();
        foreach (var kind in new[] { "clamp", "sigmoid", "exp", "softplus", "rational" })
            foreach (var inv in new[] { false, true })
                foreach (var rows in new[] { 1, 3, 37, 300 })
                    d.Add(kind, inv, rows);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FloatMatchesDouble(string kind, bool inverse, int rows)
    {
        var scale = kind switch { "clamp" => AffineScale.SoftClampedExp(3), "sigmoid" => AffineScale.Sigmoid, "softplus" => AffineScale.Softplus, "rational" => AffineScale.RationalClampedExp(3), _ => AffineScale.SoftClampedExp(double.PositiveInfinity) };
        const int k = 5;
        var r = new Rng(rows);
        var xd = r.Normal<double>(rows, k);
        var pd = r.Normal<double>(rows, 2 * k);
        for (int i = 0; i < pd.Length; i++) pd[i] *= 2.5; // raw scales across the clamp's bend
        var gy = r.Normal<double>(rows, k);
        var gl = r.Normal<double>(rows);

        (double[] y, double[] ld, double[] gx, double[] gp) Run<T>(Tensor<T> x, Tensor<T> p) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var xv = new Var<T>(x, requiresGrad: true);
            var pv = new Var<T>(p, requiresGrad: true);
            var (y, ld) = AffineCouplingOp.Apply(xv, pv, scale, inverse);
            var loss = Ops.Add(Ops.Sum(Ops.Mul(y, new Var<T>(gy.Cast<T>()))), Ops.Sum(Ops.Mul(ld, new Var<T>(gl.Cast<T>()))));
            loss.Backward();
            return (y.Value.ToDoubleArray(), ld.Value.ToDoubleArray(), xv.Grad!.ToDoubleArray(), pv.Grad!.ToDoubleArray());
        }

        var a = Run(xd, pd);
        var b = Run(xd.Cast<float>(), pd.Cast<float>());
        void Close(double[] e, double[] f, string what)
        {
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(e[i] - f[i]) <= 2e-5 * (1 + Math.Abs(e[i])), $"{what}[{i}]: double {e[i]}, float {f[i]}");
        }
        Close(a.y, b.y, "y");
        Close(a.ld, b.ld, "logdet");
        Close(a.gx, b.gx, "dL/dx");
        Close(a.gp, b.gp, "dL/dparams");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WithoutGradientsTheValuesAreBitIdentical(string kind, bool inverse, int rows)
    {
        // evaluation skips d(log s)/d raw; y and log|det| must not move
        var scale = kind switch { "clamp" => AffineScale.SoftClampedExp(3), "sigmoid" => AffineScale.Sigmoid, "softplus" => AffineScale.Softplus, "rational" => AffineScale.RationalClampedExp(3), _ => AffineScale.SoftClampedExp(double.PositiveInfinity) };
        var r = new Rng(rows + 7);
        var x = r.Normal<float>(rows, 5);
        var p = r.Normal<float>(rows, 10);
        for (int i = 0; i < p.Length; i++) p[i] *= 2.5f;
        var (y1, l1) = AffineCouplingOp.Apply(new Var<float>(x, requiresGrad: true), new Var<float>(p, requiresGrad: true), scale, inverse);
        Var<float> y2, l2;
        using (GradMode.Disable()) (y2, l2) = AffineCouplingOp.Apply(new Var<float>(x), new Var<float>(p), scale, inverse);
        Assert.Equal(y1.Value.ToArray(), y2.Value.ToArray());
        Assert.Equal(l1.Value.ToArray(), l2.Value.ToArray());
    }
}
