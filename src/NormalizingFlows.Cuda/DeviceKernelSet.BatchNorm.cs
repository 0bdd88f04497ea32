using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

// the kernels of BatchNormKernels (batch normalisation), beside the others so that LaunchRecorder sees them
internal sealed partial class DeviceKernelSet
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<float>, ArrayView<float>, int, int, int, double, double> BatchNormStats =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<float>, ArrayView<float>, int, int, int, double, double>(BatchNormKernels.Stats);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> BatchNormApply =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(BatchNormKernels.Apply);
    public readonly Action<Index1D, ArrayView<double>, ArrayView<float>, ArrayView<float>, int> BatchNormLogDet =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<float>, ArrayView<float>, int>(BatchNormKernels.LogDet);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, double> BatchNormInverse =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, double>(BatchNormKernels.Inverse);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, double> BatchNormInverseLogDet =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, double>(BatchNormKernels.InverseLogDet);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> BatchNormBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(BatchNormKernels.Backward);
}
