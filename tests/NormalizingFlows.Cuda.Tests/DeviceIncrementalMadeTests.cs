using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// The MAF's incremental sampler on the device (<see cref="DeviceIncrementalMade"/>) on ILGPU's CPU accelerator:
/// against the library's inverse and the device's D full passes, for a random order, three hidden layers narrower
/// than D (degrees with gaps, several units per degree), affine and spline, with and without context; and a batch
/// size that changes between calls.
/// </summary>
public sealed class DeviceIncrementalMadeTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private const int D = 7;

    private static Flow<float> Build(bool spline, int context)
    {
        var rng = new Rng(31);
        var conditioner = new ConditionerOptions { HiddenFeatures = 5, HiddenLayers = 3 };
        Transform<float> Layer() => spline
            ? MaskedSplineAutoregressive<float>.RationalQuadratic(D, rng, bins: 6, contextFeatures: context, conditioner: conditioner, order: MadeOrder.Random)
            : new MaskedAffineAutoregressive<float>(D, rng, context, conditioner, MadeOrder.Random);
        var transform = new CompositeTransform<float>([Layer(), Layer()]);
        var baseDistribution = new Distributions.StandardNormal<float>(D);
        var flow = context > 0 ? new ConditionalFlow<float>(transform, baseDistribution) : new Flow<float>(transform, baseDistribution);
        var noise = new Rng(32);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.2 * noise.NextNormal());
        }
        return flow;
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 3)]
    [InlineData(true, 3)]
    public void IncrementalSamplingIsTheLibrarysInverseAndTheFullPasses(bool spline, int context)
    {
        var flow = Build(spline, context);
        using var dflow = DeviceFlow.Compile(flow, _dev);
        foreach (int n in new[] { 13, 5 })
        {
            var z = new Rng(n).Normal<float>(n, D);
            var c = context == 0 ? null : new Rng(n + 100).Normal<float>(n, context);
            Tensor<float> expected;
            using (GradMode.Disable()) expected = flow.Transform.Inverse(new Var<float>(z), c is null ? null : new Var<float>(c)).X.Value;
            dflow.FullPassSampling = false;
            var incremental = dflow.Inverse(z, c);
            Assert2.Close(expected, incremental, 1e-4, 1e-4, $"incremental, {n} rows");
            dflow.FullPassSampling = true;
            Assert2.Close(incremental, dflow.Inverse(z, c), 1e-5, 1e-5, $"full passes, {n} rows");
        }
    }
}
