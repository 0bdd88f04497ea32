using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

// the kernels of FlowMatchingKernels (the flow-matching step), beside the others so that LaunchRecorder sees them
internal sealed partial class DeviceKernelSet
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> MatchingInterpolate =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(FlowMatchingKernels.Interpolate);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> MatchingSquaredError =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(FlowMatchingKernels.SquaredError);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> MatchingDraws =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(FlowMatchingKernels.Draws);
    public readonly Action<Index1D, ArrayView<float>, int, int, int, int, int, int> MatchingDrawKey =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int, int, int, int, int, int>(FlowMatchingKernels.DrawKey);
}
