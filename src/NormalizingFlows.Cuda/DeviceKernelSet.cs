using ILGPU;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

/// <summary>The kernels of <see cref="DeviceKernels"/> loaded (compiled once) for one accelerator.</summary>
internal sealed partial class DeviceKernelSet(Accelerator a)
{
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs> Gemm =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(DeviceKernels.Gemm);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> BiasActivation =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceKernels.BiasActivation);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> BiasRows =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceKernels.BiasRows);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> Transpose =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(DeviceKernels.Transpose);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, int> Gather2D =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, int>(DeviceKernels.Gather2D);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int> CopyColumn =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int>(DeviceKernels.CopyColumn);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>> ReluBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(DeviceKernels.ReluBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> BiasActivationKeep =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(DeviceActivationKernels.BiasActivationKeep);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int> Activate =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(DeviceActivationKernels.Activate);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ActivationBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DeviceActivationKernels.ActivationBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> ResidualAdd =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DeviceActivationKernels.ResidualAdd);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> GateBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DeviceActivationKernels.GateBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>> Multiply =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(DeviceKernels.Multiply);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>> Add =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(DeviceKernels.Add);
    public readonly Action<Index1D, ArrayView<float>, float> Fill =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(DeviceKernels.Fill);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, float> Scale =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(DeviceKernels.Scale);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> ScaleRows =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(DeviceKernels.ScaleRows);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int> GatherColumns =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int>(DeviceKernels.GatherColumns);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int> ScatterColumns =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int>(DeviceKernels.ScatterColumns);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int> GatherColumnsAdd =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int>(DeviceKernels.GatherColumnsAdd);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> SetInput =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DeviceKernels.SetInput);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> SumPool =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(DeviceKernels.SumPool);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> SumPoolBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(DeviceKernels.SumPoolBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, float> AddRowSums =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, float>(DeviceKernels.AddRowSums);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> NormalLogProb =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DeviceKernels.NormalLogProb);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Adam =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DeviceKernels.Adam);
    public readonly Action<Index1D, ArrayView<float>, AdamArgs, float> AdamScalars =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, AdamArgs, float>(DeviceKernels.AdamScalars);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> ClipScale =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DeviceKernels.ClipScale);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int> GatherRows =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int>(DeviceKernels.GatherRows);
    public readonly Action<Index1D, ArrayView<float>, NoiseArgs> NormalNoise =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, NoiseArgs>(DeviceKernels.NormalNoise);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearSplineArgs> LinearSplineApply =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearSplineArgs>(DeviceKernels.LinearSplineApply);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearSplineArgs> LinearSplineBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearSplineArgs>(DeviceKernels.LinearSplineBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, QuadraticSplineArgs> QuadraticSplineApply =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, QuadraticSplineArgs>(DeviceKernels.QuadraticSplineApply);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, QuadraticSplineArgs> QuadraticSplineBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, QuadraticSplineArgs>(DeviceKernels.QuadraticSplineBackward);
    public readonly Action<Index1D, ArrayView<float>, NoiseArgs> UniformNoise =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, NoiseArgs>(DeviceKernels.UniformNoise);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> UnitCubeLogProb =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DeviceKernels.UnitCubeLogProb);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, PeriodicArgs> PeriodicNormalLogProb =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, PeriodicArgs>(DeviceKernels.PeriodicNormalLogProb);
    public readonly Action<Index1D, ArrayView<float>, PeriodicArgs> ZeroPeriodic =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, PeriodicArgs>(DeviceKernels.ZeroPeriodic);
    public readonly Action<Index1D, ArrayView<float>, NoiseArgs, PeriodicArgs> PeriodicNoise =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, NoiseArgs, PeriodicArgs>(DeviceKernels.PeriodicNoise);
    public readonly Action<Index1D, ArrayView<float>> ClampUnit =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(DeviceKernels.ClampUnit);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> DivergenceRows =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(DeviceKernels.DivergenceRows);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, long> SampleRows =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, long>(DeviceKernels.SampleRows);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AffineArgs> AffineApply =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AffineArgs>(DeviceKernels.AffineApply);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AffineArgs> AffineBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AffineArgs>(DeviceKernels.AffineBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SplineArgs> SplineApply =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SplineArgs>(DeviceKernels.SplineApply);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SplineArgs> SplineBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SplineArgs>(DeviceKernels.SplineBackward);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SigmoidalArgs> SigmoidalApply =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SigmoidalArgs>(DeviceSigmoidalKernels.Apply);
    public readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SigmoidalArgs> SigmoidalBackward =
        a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, SigmoidalArgs>(DeviceSigmoidalKernels.Backward);
}
