using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

// the kernels of GlowKernels (ActNorm, the LU-decomposed linear map), beside the others so that LaunchRecorder sees them
internal sealed partial class DeviceKernelSet
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> ActNormApply =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(GlowKernels.ActNormApply);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ActNormBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(GlowKernels.ActNormBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, float> AddRowConstant =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, float>(GlowKernels.AddRowConstant);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>> AddScalar =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(GlowKernels.AddScalar);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> AddRowVector =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(GlowKernels.AddRowVector);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int> LuCompose =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int>(GlowKernels.LuCompose);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<double>, ArrayView<float>, int> LuInverse =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<double>, ArrayView<float>, int>(GlowKernels.LuInverse);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> LuBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(GlowKernels.LuBackward);
}
