using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

/// <summary>
/// CaloFlow's device path (<see cref="CaloFlow.OnDevice"/>) with a recording accelerator that maps base points by the
/// library's own inverse: for every sampler, <see cref="CaloFlow.Generate"/> compiles flow I and the right flow II once,
/// hands each the base draws and contexts of the CPU run of the same seed, and so gives the CPU's showers. The device
/// kernels themselves are tested on ILGPU's CPU accelerator (NormalizingFlows.Cuda.Tests: DeviceCaloFlowTests with the
/// student, the MAF inverse in DeviceConditionalTests).
/// </summary>
public class CaloFlowDeviceTests
{
    /// <summary>An <see cref="IFlowAccelerator"/> whose compiled flows map base points on the host and record what they were given.</summary>
    private sealed class RecordingAccelerator : IFlowAccelerator
    {
        public List<Flow<float>> Compiled { get; } = [];
        public List<(Flow<float> Flow, int Rows, int ContextCols, bool FullPasses)> Calls { get; } = [];
        public string Name => "recording accelerator";

        public IAcceleratedFlow Compile(Flow<float> flow, Adam<float>? optimizer = null, ContextEmbedding<float>? embedding = null)
        {
            Compiled.Add(flow);
            return new Host(this, flow);
        }

        private sealed class Host(RecordingAccelerator owner, Flow<float> flow) : IAcceleratedFlow
        {
            public Tensor<float> Inverse(Tensor<float> z, Tensor<float>? context = null, bool fullPasses = false)
            {
                owner.Calls.Add((flow, z.Rows, context?.Cols ?? 0, fullPasses));
                using var _ = GradMode.Disable();
                return flow.Transform.InverseWithoutLogDet(new Var<float>(z), context is null ? null : new Var<float>(context)).Value.Clone();
            }

            public void SetTrainingData(Tensor<float> x, Tensor<float>? context = null, Tensor<float>? weights = null) => throw new NotSupportedException();
            public void TrainStep(ReadOnlySpan<int> rows, double learningRate, double? clipNorm) => throw new NotSupportedException();
            public double TakeLossSum() => throw new NotSupportedException();
            public float[] LogProb(Tensor<float> x, Tensor<float>? context = null) => throw new NotSupportedException();
            public Tensor<float> Sample(int n, long seed, Tensor<float>? context = null) => throw new NotSupportedException();
            public (Tensor<float> X, Tensor<float> LogQ) SampleUnitCube(int n, long seed, long firstRow = 0, Tensor<float>? context = null) => throw new NotSupportedException();
            public void SetDivergenceRound(Tensor<float> x, Divergence divergence, Tensor<float> coefficient, Tensor<float> aux, Tensor<float>? context = null) => throw new NotSupportedException();
            public void DivergenceStep(double learningRate, double? clipNorm) => throw new NotSupportedException();
            public float[] ForwardLogProb(Tensor<float>? x, Tensor<float>? context = null) => throw new NotSupportedException();
            public double BackwardLogProb(Tensor<float> gradient) => throw new NotSupportedException();
            public void ApplyGradients(double learningRate, double gradientScale = 1) => throw new NotSupportedException();
            public void CopyTo(Flow<float> flow, Adam<float>? optimizer = null) => throw new NotSupportedException();
            public void Dispose() { }
        }
    }

    private static CaloFlow TinyModel()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 40, 5);
        var model = CaloFlow.Create(new CaloFlowConfig { Flow1Layers = 2, Flow1Hidden = 8, Flow1Bins = 4, Flow2Layers = 2, Flow2Hidden = 8, Flow2Bins = 2 }, showers, seed: 3);
        model.Distiller(new DistillationOptions { Steps = 1 }); // the student, with the teacher's weights
        var noise = new Rng(12);
        foreach (var p in model.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(0.03 * noise.NextNormal());
        }
        return model;
    }

    [Theory]
    [InlineData(CaloSampler.Teacher)]
    [InlineData(CaloSampler.TeacherFullPasses)]
    [InlineData(CaloSampler.Student)]
    public void GenerationHandsTheDeviceTheCpusBaseDrawsAndContexts(CaloSampler sampler)
    {
        var model = TinyModel();
        double[] energies = [2, 30, 64, 99, 12];
        var device = new RecordingAccelerator();
        using var flows = model.OnDevice(device);
        var onDevice = model.Generate(energies, sampler, seed: 4, batchSize: 2, device: flows);
        var cpu = model.Generate(energies, sampler, seed: 4, batchSize: 2);
        var flow2 = sampler == CaloSampler.Student ? model.Student! : model.Teacher;
        Assert.Equal(cpu.IncidentEnergies, onDevice.IncidentEnergies);
        // the same inverse on the same draws: equal, except that the CPU's full-pass sampler rounds otherwise than the incremental MADE
        double tolerance = sampler == CaloSampler.TeacherFullPasses ? 1e-5 : 0;
        for (int i = 0; i < cpu.Voxels.Length; i++)
            Assert.True(Math.Abs(cpu.Voxels[i] - onDevice.Voxels[i]) <= tolerance * Math.Abs(cpu.Voxels[i]), $"voxel {i}: CPU {cpu.Voxels[i]}, device path {onDevice.Voxels[i]}");
        Assert.Contains(cpu.Voxels, v => v > 0);
        // flow I and the sampler's flow II, compiled once each and called per batch of 2, 2 and 1 showers with their
        // contexts (flow II's MAF layers with full passes for the full-pass sampler, flow I's never: as on the CPU)
        Assert.Equal([model.Flow1, flow2], device.Compiled);
        bool full = sampler == CaloSampler.TeacherFullPasses;
        Assert.Equal([(model.Flow1, 2, 1, false), (flow2, 2, 4, full), (model.Flow1, 2, 1, false), (flow2, 2, 4, full), (model.Flow1, 1, 1, false), (flow2, 1, 4, full)], device.Calls);
        // a second run reuses the compiled flows
        model.Generate(energies[..1], sampler, seed: 5, device: flows);
        Assert.Equal(2, device.Compiled.Count);
    }

    [Fact]
    public void TimingOnTheDeviceRunsTheDevicesFlows()
    {
        var model = TinyModel();
        var device = new RecordingAccelerator();
        using var flows = model.OnDevice(device);
        var t = model.TimeFlow2PerShower(CaloSampler.Student, 8, seed: 1, repeats: 1, device: flows);
        Assert.True(t.WallSeconds > 0);
        Assert.Equal([model.Student!], device.Compiled);
        Assert.All(device.Calls, c => Assert.Same(model.Student, c.Flow));
        model.TimePerShower(CaloSampler.Teacher, 8, seed: 1, repeats: 1, device: flows);
        Assert.Equal([model.Student!, model.Flow1, model.Teacher], device.Compiled);
    }
}
