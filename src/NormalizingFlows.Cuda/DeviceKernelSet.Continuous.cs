using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

// the kernels of DeviceContinuousKernels (continuous flows), beside the others so that LaunchRecorder sees them
internal sealed partial class DeviceKernelSet
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FieldInputArgs> CnfFieldInput =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FieldInputArgs>(DeviceContinuousKernels.FieldInput);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int> CnfTangentSeed =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(DeviceContinuousKernels.TangentSeed);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> CnfTangentScale =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(DeviceContinuousKernels.TangentScale);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> CnfPack =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(DeviceContinuousKernels.Pack);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, CombineArgs> CnfCombine =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, CombineArgs>(DeviceContinuousKernels.Combine);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, float> CnfAddScaled =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(DeviceContinuousKernels.AddScaled);
    public readonly Action<Index1D, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, RowNormArgs> CnfRowNorm =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, RowNormArgs>(DeviceContinuousKernels.RowNorm);
    public readonly Action<Index1D, ArrayView<double>, ArrayView<double>, int> CnfMaxNorm =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, int>(DeviceContinuousKernels.MaxNorm);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> CnfProbeGradient =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(DeviceContinuousKernels.ProbeGradient);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> CnfSlopeBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(DeviceContinuousKernels.SlopeBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> CnfAddLeadingColumns =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceContinuousKernels.AddLeadingColumns);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> CnfLeadingColumns =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceContinuousKernels.LeadingColumns);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> CnfPadColumns =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceContinuousKernels.PadColumns);
    public readonly Action<Index1D, ArrayView<float>, int> CnfIdentityProbes =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int>(DeviceContinuousKernels.IdentityProbes);
}
