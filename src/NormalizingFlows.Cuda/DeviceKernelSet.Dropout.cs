using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

// the kernels of DropoutKernels (dropout in the conditioners), beside the others so that LaunchRecorder sees them
internal sealed partial class DeviceKernelSet
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, int> DropoutForward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, int>(DropoutKernels.DropoutForward);
    public readonly Action<Index1D, ArrayView<float>, int, int> DropoutStep =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int>(DropoutKernels.DropoutStep);
}
