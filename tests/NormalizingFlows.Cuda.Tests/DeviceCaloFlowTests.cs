using NormalizingFlows.Flows;
using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// CaloFlow generation on ILGPU's CPU accelerator (<see cref="CaloFlow.OnDevice"/>): flow I and the IAF student (one
/// MADE pass per layer) map the CPU's base draws for the same seed, so the showers equal the CPU's within float
/// tolerance. The teacher is not run here: its 2 × 504 sequential MADE passes took minutes on the CPU accelerator even
/// with 4 hidden units (its kernels are DeviceConditionalTests' MAF inverse; CaloFlowDeviceTests in the Hep tests
/// check that CaloFlow hands the teacher the same base draws and contexts).
/// </summary>
public sealed class DeviceCaloFlowTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private readonly ComputeDevice _dev = fixture.Device;
    private static readonly double[] Energies = [3, 42, 97];

    private static void Perturb(Flow<float> flow, long seed, double scale)
    {
        var noise = new Rng(seed);
        foreach (var p in flow.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)(scale * noise.NextNormal());
        }
    }

    /// <summary>An untrained tiny model with a student, every flow's weights moved off their start (and off each other's).</summary>
    internal static CaloFlow TinyModel()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 40, 5);
        var config = new CaloFlowConfig { Flow1Layers = 2, Flow1Hidden = 8, Flow1Bins = 4, Flow2Layers = 2, Flow2Hidden = 4, Flow2Bins = 0 };
        var model = CaloFlow.Create(config, showers, seed: 3);
        model.Distiller(new DistillationOptions { Steps = 1 }); // creates the student (teacher's weights), trains nothing
        Perturb(model.Flow1, 11, 0.1);
        Perturb(model.Teacher, 12, 0.03);
        Perturb(model.Student!, 13, 0.03);
        return model;
    }

    private static void SameShowers(CaloShowers expected, CaloShowers actual, string what)
    {
        Assert.Equal(expected.IncidentEnergies, actual.IncidentEnergies);
        var e = expected.Voxels; var a = actual.Voxels;
        Assert.Equal(e.Length, a.Length);
        int nonzero = 0;
        for (int i = 0; i < e.Length; i++)
        {
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-3 * Math.Abs(e[i]) + 1e-9, $"{what}: voxel {i % CaloGeometry.Voxels} of shower {i / CaloGeometry.Voxels}: CPU {e[i]}, device {a[i]}");
            if (e[i] != 0) nonzero++;
        }
        Assert.True(nonzero > e.Length / 10, $"{what}: only {nonzero} of {e.Length} voxels above threshold (a vacuous comparison)");
    }

    [Fact]
    public void StudentShowersOnTheDeviceAreTheCpusFromTheSameSeed()
    {
        var model = TinyModel();
        using var flows = model.OnDevice(_dev);
        // flow I (a spline MAF over 3 features: 3 full passes per layer) and the IAF student (one pass per layer) on the device
        var student = model.Generate(Energies, CaloSampler.Student, seed: 7, batchSize: 2, device: flows);
        SameShowers(model.Generate(Energies, CaloSampler.Student, seed: 7, batchSize: 2), student, "student");
        // another seed gives other showers (the base draws are the seed's)
        Assert.True(model.Generate(Energies, CaloSampler.Student, seed: 8, batchSize: 2, device: flows).Voxels.Zip(student.Voxels, (a, b) => Math.Abs(a - b)).Max() > 1e-3,
            "another seed should give other showers");
    }

    [Fact]
    public void TeacherShowersOnTheDeviceAreTheCpusFromTheSameSeed()
    {
        var model = TinyModel();
        using var flows = model.OnDevice(_dev);
        // the teacher with the device's incremental MADE: 504 small steps per layer, one batch of three showers
        var teacher = model.Generate(Energies, CaloSampler.Teacher, seed: 7, batchSize: 3, device: flows);
        SameShowers(model.Generate(Energies, CaloSampler.Teacher, seed: 7, batchSize: 3), teacher, "teacher");
        var student = model.Generate(Energies, CaloSampler.Student, seed: 7, batchSize: 3);
        Assert.True(teacher.Voxels.Zip(student.Voxels, (t, s) => Math.Abs(t - s)).Max() > 1e-3, "teacher and student showers should differ (the sampler matters)");
    }

    [Fact]
    public void DeviceFlowsBelongToTheirModelAndRefuseUseAfterDispose()
    {
        var model = TinyModel();
        var other = TinyModel();
        var flows = other.OnDevice(_dev);
        Assert.Throws<ArgumentException>(() => model.Generate(Energies, CaloSampler.Student, 1, device: flows));
        flows.Dispose();
        Assert.Throws<ObjectDisposedException>(() => other.Generate(Energies, CaloSampler.Student, 1, device: flows));
    }
}
