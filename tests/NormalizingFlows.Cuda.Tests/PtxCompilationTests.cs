using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace NormalizingFlows.Cuda.Tests;

/// <summary>
/// Every device kernel compiles to PTX for the H200's architecture (sm_90) without a GPU: the CPU accelerator runs
/// kernels as .NET code, so this is what catches a construct the CUDA backend cannot translate before a GPU run.
/// </summary>
public sealed class PtxCompilationTests
{
    public static TheoryData<string> Kernels => KernelsOf(typeof(DeviceKernels));

    public static TheoryData<string> DistillationKernelNames => KernelsOf(typeof(DistillationKernels));

    public static TheoryData<string> ActivationKernelNames => KernelsOf(typeof(DeviceActivationKernels));

    public static TheoryData<string> GlowKernelNames => KernelsOf(typeof(GlowKernels));

    private static TheoryData<string> KernelsOf(Type type) => [.. type.GetMethods(BindingFlags.Public | BindingFlags.Static)
        .Where(m => m.GetParameters().FirstOrDefault()?.ParameterType == typeof(Index1D)).Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(Kernels))]
    public void KernelCompilesToPtx(string name) => CompilesToPtx(typeof(DeviceKernels), name);

    [Theory]
    [MemberData(nameof(DistillationKernelNames))]
    public void DistillationKernelCompilesToPtx(string name) => CompilesToPtx(typeof(DistillationKernels), name);

    [Theory]
    [MemberData(nameof(ActivationKernelNames))]
    public void ActivationKernelCompilesToPtx(string name) => CompilesToPtx(typeof(DeviceActivationKernels), name);

    [Theory]
    [MemberData(nameof(GlowKernelNames))]
    public void GlowKernelCompilesToPtx(string name) => CompilesToPtx(typeof(GlowKernels), name);

    internal static void CompilesToPtx(Type type, string name)
    {
        using var context = Context.Create(b => b.EnableAlgorithms());
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!);
        var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(method);
        var specialization = KernelSpecialization.Empty;
        var kernel = (PTXCompiledKernel)backend.Compile(entry, specialization);
        Assert.Contains(".entry", kernel.PTXAssembly, StringComparison.Ordinal);
    }
}
