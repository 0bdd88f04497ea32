using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

// the kernels of DeviceUmnnKernels (the UMNN update), beside the others so that LaunchRecorder sees them
internal sealed partial class DeviceKernelSet
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> UmnnEmbeddings =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceUmnnKernels.Embeddings);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> UmnnExpand =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(DeviceUmnnKernels.Expand);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> UmnnCombine =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(DeviceUmnnKernels.Combine);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> UmnnBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(DeviceUmnnKernels.Backward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> UmnnSumNodes =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceUmnnKernels.SumNodes);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> UmnnAddPositionGradient =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DeviceUmnnKernels.AddPositionGradient);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> UmnnScatterEmbeddings =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceUmnnKernels.ScatterEmbeddings);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>> UmnnSolverStart =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>>(DeviceUmnnKernels.SolverStart);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, double> UmnnSolverStep =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, double>(DeviceUmnnKernels.SolverStep);
}
