namespace NormalizingFlows.Cuda.Tests;

/// <summary>One ILGPU CPU accelerator for a test class (kernels compile once).</summary>
public sealed class CpuAcceleratorFixture : IDisposable
{
    public ComputeDevice Device { get; } = ComputeDevice.CpuAccelerator();

    public void Dispose() => Device.Dispose();
}
