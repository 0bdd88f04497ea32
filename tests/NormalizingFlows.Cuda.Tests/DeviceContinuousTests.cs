using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Continuous flows on the device against the library's CPU path, on the CPU accelerator: the vector field's velocity
/// and its backward (<see cref="DeviceVectorField"/>).
/// </summary>
public sealed class DeviceContinuousTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;

    /// <summary>A field with every weight moved off its start (the zero output layer would make v = 0).</summary>
    internal static VectorField<float> Field(int d, int c, long seed = 3, int layers = 2)
    {
        var field = new VectorField<float>(d, hidden: 8, layers: layers, new Rng(seed), contextFeatures: c, timeFrequencies: 2);
        var noise = new Rng(seed + 100);
        foreach (var p in field.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.4 * noise.NextNormal());
        }
        return field;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void FieldVelocityAndBackwardMatchTheLibrary(int c)
    {
        const int d = 3, n = 7;
        var field = Field(d, c);
        var x = new Rng(1).Normal<float>(n, d);
        var time = Tensor<float>.Empty(n);
        for (int i = 0; i < n; i++) time.Span[i] = 0.13f * i;
        var context = c > 0 ? new Rng(2).Normal<float>(n, c) : null;
        var gv = new Rng(4).Normal<float>(n, d);
        var xv = new Var<float>(x.Clone(), requiresGrad: true);
        var cv = context is null ? null : new Var<float>(context.Clone(), requiresGrad: true);
        var v = field.Evaluate(xv, time, cv);
        Ops.Sum(Ops.Mul(v, new Var<float>(gv))).Backward();

        using var f = new DeviceVectorField(_dev, field);
        using var dx = DeviceTensor.Upload(_dev, x);
        using var dt = DeviceTensor.Upload(_dev, time);
        using var dc = context is null ? null : DeviceTensor.Upload(_dev, context);
        var dv = f.Forward(dx, dt, dc);
        Assert2.Close(v.Value, dv.Download(), 1e-5, 1e-6, "velocity");
        Assert.True(v.Value.ReadOnlySpan.ToArray().Any(e => Math.Abs(e) > 0.1), "a velocity of ~0 tests nothing");

        using var dgv = DeviceTensor.Upload(_dev, gv);
        using var gx = DeviceTensor.Zeros(_dev, n, d);
        using var gc = c > 0 ? DeviceTensor.Zeros(_dev, n, c) : null;
        f.Backward(dgv, gx, gc);
        Assert2.Close(xv.Grad!, gx.Download(), 1e-4, 1e-5, "input gradient");
        if (cv is not null) Assert2.Close(cv.Grad!, gc!.Download(), 1e-4, 1e-5, "context gradient");
        AssertParameterGradients(field, f, 1, "velocity");

        // accumulate: a second backward adds the same gradients
        f.Backward(dgv, null, null, accumulate: true);
        AssertParameterGradients(field, f, 2, "accumulated");
    }

    /// <summary>The device field's parameter gradients equal <paramref name="times"/> × the host's (input, hidden…, output order).</summary>
    internal static void AssertParameterGradients(VectorField<float> field, DeviceVectorField f, float times, string what)
    {
        var hosts = field.Parameters().ToList();
        var device = f.Linears.SelectMany(l => new[] { l.GW, l.GB }).ToList();
        Assert.Equal(hosts.Count, device.Count);
        for (int i = 0; i < hosts.Count; i++)
        {
            var expected = hosts[i].Grad!.Clone();
            var s = expected.Span;
            for (int j = 0; j < s.Length; j++) s[j] *= times;
            Assert.True(expected.ReadOnlySpan.ToArray().Any(e => e != 0), $"{what}: parameter {i} has a zero gradient");
            Assert2.Close(expected, device[i].Download().Reshape(expected.Shape.ToArray()), 1e-4, 1e-5, $"{what}: parameter {i} gradient");
        }
    }
}
