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
    /// or "no cuBLAS: …" when the library does not load. <paramref name="graphs"/> (opt-in, off by default) replays each
    /// training step (<see cref="DeviceFlow.TrainStep"/> without reading the loss, the training loop's steps) as one
    /// captured CUDA graph once a step of the same batch size has run (<see cref="CudaGraphs"/>): all launches then go
    /// to a non-blocking stream of their own; a failed capture falls back to eager launches with one message
    /// (<see cref="GraphFallback"/>).
    /// </summary>
    public static ComputeDevice Cuda(int index = 0, bool tf32 = false, bool graphs = false)
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
            // CUDA graphs capture a stream; ILGPU's default stream is the legacy NULL stream, which cannot be captured,
            // so with graphs every launch and copy goes to a non-blocking stream made ILGPU's default (its launchers
            // read the default stream at each launch), and cuBLAS is bound to it
            if (graphs) UseStream(accelerator, ((CudaAccelerator)accelerator).CreateStream(StreamFlags.CU_STREAM_NON_BLOCKING));
            var stream = ((CudaStream)accelerator.DefaultStream).StreamPtr;
            var blas = new CuBlas(stream, tf32);
            var device = new ComputeDevice(context, accelerator, blas);
            if (graphs)
            {
                // a workspace of cuBLAS's own from the start, so that no GEMM allocates one inside a capture
                device._blasWorkspace = DeviceTensor.Zeros(device, BlasWorkspaceBytes / sizeof(float));
                blas.SetWorkspace(device._blasWorkspace.Pointer, BlasWorkspaceBytes);
                device.GraphCapture = new CudaGraphCapture(accelerator, stream);
            }
            return device;
        }
        catch
        {
            accelerator.Dispose();
            context.Dispose();
            throw;
        }
    }

    private const int BlasWorkspaceBytes = 32 << 20; // cuBLAS's recommendation for Hopper
    private DeviceTensor? _blasWorkspace;

    /// <summary>Makes <paramref name="stream"/> the accelerator's default stream (ILGPU's launchers and copies read it at each call).</summary>
    internal static void UseStream(Accelerator accelerator, AcceleratorStream stream)
    {
        var setter = typeof(Accelerator).GetProperty(nameof(Accelerator.DefaultStream))?.GetSetMethod(nonPublic: true)
            ?? throw new InvalidOperationException("CUDA graphs: this ILGPU has no settable Accelerator.DefaultStream");
        setter.Invoke(accelerator, [stream]);
    }

    /// <summary>True when training steps are replayed as CUDA graphs (<see cref="Cuda"/>'s graphs, and no capture has failed).</summary>
    public bool CudaGraphs => GraphCapture is CudaGraphCapture;

    /// <summary>Why CUDA graphs were turned off (a capture failed; the steps run eagerly, with the same results); null otherwise.</summary>
    public string? GraphFallback { get; private set; }

    /// <summary>Captures training steps as graphs (null: eager launches).</summary>
    internal IGraphCapture? GraphCapture { get; set; }

    /// <summary>Turns graphs off after a failed capture, saying so once on standard error.</summary>
    internal void DisableGraphs(Exception e)
    {
        GraphCapture = null;
        GraphFallback = e.Message.Split('\n')[0];
        Console.Error.WriteLine($"CUDA graphs: the step's capture failed ({GraphFallback}); training steps launch eagerly");
    }

    /// <summary>"cuda" (<see cref="Cuda"/>), "cuda-graphs" (<see cref="Cuda"/> with graphs: training steps replayed as CUDA graphs) or "cpu-accelerator" (<see cref="CpuAccelerator"/>).</summary>
    public static ComputeDevice Create(string name) => name switch
    {
        "cuda" => Cuda(),
        "cuda-graphs" => Cuda(graphs: true),
        "cpu-accelerator" => CpuAccelerator(),
        _ => throw new ArgumentException($"unknown device '{name}' (cuda, cuda-graphs or cpu-accelerator)", nameof(name)),
    };

    /// <summary>The accelerator's name, e.g. "NVIDIA H200" or "CPUAccelerator".</summary>
    public string Name => Accelerator.Name;

    /// <inheritdoc/>
    public IAcceleratedFlow Compile(Flow<float> flow, Adam<float>? optimizer = null, Nn.Embeddings.ContextEmbedding<float>? embedding = null) => new AcceleratedDeviceFlow(this, flow, optimizer, embedding);

    /// <summary>
    /// The teacher and student of a density distillation on this device (<see cref="DistillationOptions.Device"/>):
    /// MAF teacher layers and IAF student layers over MADEs (any activation, residual ones too), affine or spline, with or without context.
    /// </summary>
    public IAcceleratedDistillation CompileDistillation(Flow<float> teacher, Flow<float> student, Adam<float>? optimizer, bool zPass, bool xPass)
        => new DeviceDistillation(this, teacher, student, optimizer, zPass, xPass);

    /// <summary>
    /// A continuous flow (one Transforms/Continuous/ContinuousTransform over its base, behind an MLP or sum-pooling
    /// context embedding when given) on this device for flow matching (<see cref="TrainingOptions.Device"/> with
    /// Training/FlowMatchingLoss); its log-density for validation is solved on the device too.
    /// </summary>
    public IAcceleratedFlowMatching CompileFlowMatching(Flow<float> flow, double sigmaMin, Adam<float>? optimizer = null, Nn.Embeddings.ContextEmbedding<float>? embedding = null)
        => new DeviceFlowMatching(this, flow, sigmaMin, optimizer, embedding);

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

    /// <summary>Bytes of the <see cref="DeviceTensor"/> buffers allocated so far (frees not subtracted; for the tests that check what a compile allocates).</summary>
    internal long AllocatedBytes { get; set; }

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
        _blasWorkspace?.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }
}
