using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Training;

namespace NormalizingFlows.Cuda;

/// <summary>
/// Where device tensors live and kernels run: an NVIDIA GPU through CUDA (<see cref="Cuda"/>, GEMMs by cuBLAS), or
/// ILGPU's CPU accelerator (<see cref="CpuAccelerator"/>), which runs the same kernels on any machine, slowly: for
/// tests and CI. Kernels are compiled once per device. Dispose it after the tensors and flows that use it. As an
/// <see cref="IFlowAccelerator"/> it is <see cref="TrainingOptions.Device"/>: the library's training loop then trains
/// on it through a <see cref="DeviceFlow"/>. Host↔device copies go through a page-locked staging buffer it owns
/// (<see cref="PinnedTransfers"/>).
/// </summary>
public sealed class ComputeDevice : IFlowAccelerator, IDisposable
{
    private readonly Context _context;
    private DeviceTensor? _ones;
    private readonly HostStaging _staging;
    private readonly Lock _stagingLock = new();

    private ComputeDevice(Context context, Accelerator accelerator, CuBlas? blas)
    {
        _context = context;
        Accelerator = accelerator;
        Blas = blas;
        Kernels = new DeviceKernelSet(accelerator);
        _staging = new HostStaging(accelerator);
        ResidentDataLimit = accelerator.MemorySize / 2;
    }

    /// <summary>ILGPU's CPU accelerator: the device kernels as .NET code (GEMM by the ILGPU kernel).</summary>
    public static ComputeDevice CpuAccelerator()
    {
        var context = Context.Create(b => b.CPU().EnableAlgorithms());
        return new ComputeDevice(context, context.CreateCPUAccelerator(0, CPUAcceleratorMode.Sequential), null);
    }

    /// <summary>
    /// CUDA device <paramref name="index"/> with cuBLAS GEMMs; <paramref name="tf32"/> lets cuBLAS use TF32 tensor
    /// cores (about 10 mantissa bits in the products: faster, less exact; off by default). Throws an
    /// <see cref="InvalidOperationException"/> with one line "no CUDA device: …" when there is no driver or device,
    /// or "no cuBLAS: …" when the library does not load.
    /// </summary>
    public static ComputeDevice Cuda(int index = 0, bool tf32 = false)
    {
        Context? context = null;
        Accelerator? accelerator = null;
        try
        {
            context = Context.Create(b => b.Cuda().EnableAlgorithms());
            var devices = context.GetCudaDevices();
            if (devices.Count == 0) throw new InvalidOperationException("the CUDA driver lists no GPU (or no driver is installed)");
            if (index < 0 || index >= devices.Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"{devices.Count} CUDA device(s)");
            accelerator = context.CreateCudaAccelerator(index);
        }
        catch (Exception e) when (e is not ArgumentOutOfRangeException)
        {
            accelerator?.Dispose();
            context?.Dispose();
            throw new InvalidOperationException($"no CUDA device: {e.Message.Split('\n')[0]}", e);
        }
        try
        {
            var blas = new CuBlas(((CudaStream)accelerator.DefaultStream).StreamPtr, tf32);
            return new ComputeDevice(context, accelerator, blas);
        }
        catch
        {
            accelerator.Dispose();
            context.Dispose();
            throw;
        }
    }

    /// <summary>"cuda" (<see cref="Cuda"/>) or "cpu-accelerator" (<see cref="CpuAccelerator"/>).</summary>
    public static ComputeDevice Create(string name) => name switch
    {
        "cuda" => Cuda(),
        "cpu-accelerator" => CpuAccelerator(),
        _ => throw new ArgumentException($"unknown device '{name}' (cuda or cpu-accelerator)", nameof(name)),
    };

    /// <summary>The accelerator's name, e.g. "NVIDIA H200" or "CPUAccelerator".</summary>
    public string Name => Accelerator.Name;

    /// <inheritdoc/>
    public IAcceleratedFlow Compile(Flow<float> flow, Adam<float>? optimizer = null, Nn.Embeddings.ContextEmbedding<float>? embedding = null) => new AcceleratedDeviceFlow(this, flow, optimizer, embedding);

    /// <summary>
    /// The teacher and student of a density distillation on this device (<see cref="DistillationOptions.Device"/>):
    /// MAF teacher layers and IAF student layers over ReLU MADEs, affine or spline, with or without context.
    /// </summary>
    public IAcceleratedDistillation CompileDistillation(Flow<float> teacher, Flow<float> student, Adam<float>? optimizer, bool zPass, bool xPass)
        => new DeviceDistillation(this, teacher, student, optimizer, zPass, xPass);

    /// <summary>True on a CUDA GPU.</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>Waits until every launched kernel has finished (for timing; downloads wait by themselves).</summary>
    public void Synchronize() => Accelerator.Synchronize();

    /// <summary>
    /// True when host↔device copies go through a page-locked (pinned) staging buffer, copied asynchronously on the
    /// device's stream; false when page-locking is unavailable and they copy from pageable memory, synchronously.
    /// </summary>
    public bool PinnedTransfers => _staging.Pinned;

    /// <summary>
    /// The most bytes of training data (events, context and weights together) that training through
    /// <see cref="TrainingOptions.Device"/> keeps on the device; a larger training set stays on the host and each
    /// step's batch rows are gathered there into pinned buffers and uploaded (streamed). Read when the training data
    /// is set. Default: half of the device's memory; 0 streams every training set.
    /// </summary>
    public long ResidentDataLimit
    {
        get;
        set => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "must be ≥ 0 bytes");
    }

    internal Accelerator Accelerator { get; }

    /// <summary>Copies <paramref name="values"/> into <paramref name="target"/> through the staging buffer (asynchronous when pinned).</summary>
    internal void Upload<T>(ArrayView<T> target, ReadOnlySpan<T> values) where T : unmanaged
    {
        lock (_stagingLock) _staging.Upload(target, values);
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/> through the staging buffer (waits for the device).</summary>
    internal void Download<T>(ArrayView<T> source, Span<T> destination) where T : unmanaged
    {
        lock (_stagingLock) _staging.Download(source, destination);
    }

    /// <summary>The staging buffer (for the tests).</summary>
    internal HostStaging Staging => _staging;

    internal DeviceKernelSet Kernels { get; }

    internal CuBlas? Blas { get; }

    /// <summary>Device buffers allocated so far (<see cref="DeviceTensor"/>s; for the tests that check buffers are reused).</summary>
    internal long Allocations { get; set; }

    /// <summary>A vector of at least <paramref name="n"/> ones (for column sums by GEMM).</summary>
    internal DeviceTensor Ones(int n)
    {
        if (_ones is not null && _ones.Length >= n) return _ones;
        _ones?.Dispose();
        _ones = DeviceTensor.Zeros(this, Math.Max(n, 1024));
        Kernels.Fill((int)_ones.Length, _ones.View, 1f);
        return _ones;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _ones?.Dispose();
        _staging.Dispose();
        Blas?.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }
}
