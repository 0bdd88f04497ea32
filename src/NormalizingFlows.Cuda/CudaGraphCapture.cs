using System.Runtime.InteropServices;
using ILGPU.Runtime;

namespace NormalizingFlows.Cuda;

/// <summary>
/// CUDA graphs by P/Invoke on the driver (libcuda.so.1): stream capture of the launches ILGPU and cuBLAS enqueue on
/// the device's stream (a non-blocking stream made ILGPU's default: the legacy NULL stream cannot be captured),
/// instantiated and replayed with cuGraphLaunch. The capture mode is thread-local: an allocation, a synchronous copy
/// or a synchronization by this thread during the capture fails it (and the step runs eagerly) instead of being
/// recorded wrongly, while another thread's call (e.g. the finalizer freeing a buffer ILGPU was not given back) does
/// not break it, as it would in the global mode.
/// </summary>
internal sealed class CudaGraphCapture(Accelerator accelerator, IntPtr stream) : IGraphCapture
{
    private const string Driver = "libcuda.so.1";
    private const int CaptureModeThreadLocal = 1; // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL

    [DllImport(Driver)] private static extern int cuStreamBeginCapture_v2(IntPtr stream, int mode);
    [DllImport(Driver)] private static extern int cuStreamEndCapture(IntPtr stream, out IntPtr graph);
    [DllImport(Driver)] private static extern int cuGraphInstantiateWithFlags(out IntPtr exec, IntPtr graph, ulong flags);
    [DllImport(Driver)] private static extern int cuGraphLaunch(IntPtr exec, IntPtr stream);
    [DllImport(Driver)] private static extern int cuGraphExecDestroy(IntPtr exec);
    [DllImport(Driver)] private static extern int cuGraphDestroy(IntPtr graph);

    /// <summary>The captured stream (its handle, for cuBLAS's cublasSetStream).</summary>
    public IntPtr Stream => stream;

    public void Begin()
    {
        accelerator.Bind();
        Check(cuStreamBeginCapture_v2(stream, CaptureModeThreadLocal), "cuStreamBeginCapture");
    }

    public void Abort()
    {
        if (cuStreamEndCapture(stream, out var graph) == 0 && graph != IntPtr.Zero) cuGraphDestroy(graph);
    }

    public ICapturedGraph End()
    {
        Check(cuStreamEndCapture(stream, out var graph), "cuStreamEndCapture");
        try
        {
            Check(cuGraphInstantiateWithFlags(out var exec, graph, 0), "cuGraphInstantiateWithFlags");
            return new Graph(accelerator, exec, stream);
        }
        finally { cuGraphDestroy(graph); }
    }

    private static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"{call} failed with CUDA error {status}");
    }

    private sealed class Graph(Accelerator accelerator, IntPtr exec, IntPtr stream) : ICapturedGraph
    {
        private IntPtr _exec = exec;

        public void Launch()
        {
            accelerator.Bind();
            Check(cuGraphLaunch(_exec, stream), "cuGraphLaunch");
        }

        public void Dispose()
        {
            if (_exec == IntPtr.Zero) return;
            cuGraphExecDestroy(_exec);
            _exec = IntPtr.Zero;
        }
    }
}
