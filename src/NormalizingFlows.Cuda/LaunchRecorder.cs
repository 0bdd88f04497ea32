using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace NormalizingFlows.Cuda;

/// <summary>
/// Routes every kernel of a device's <see cref="DeviceKernelSet"/> through a recorder (the fields swapped for wrappers
/// by reflection): it logs each launch (kernel, extent, the views' buffers, offsets and lengths, the by-value
/// arguments) and, as the device's <see cref="IGraphCapture"/>, emulates CUDA graph capture on the CPU accelerator:
/// between Begin and End the launches are recorded instead of run, and the captured graph replays them with the
/// arguments they had at capture, as cuGraphLaunch does. Use it on a device of its own (for tests, and GpuCheck's
/// graph_vs_eager on the CPU accelerator); nothing installs it otherwise.
/// </summary>
internal sealed class LaunchRecorder : IGraphCapture
{
    private List<(Delegate Kernel, object?[] Args)>? _capturing;

    private LaunchRecorder() { }

    /// <summary>The launches since the last <see cref="Log"/> reset (kernel name and arguments), when logging.</summary>
    public List<string>? Log { get; set; }

    /// <summary>Makes the next capture fail at its end (as a CUDA capture that met an unsupported call).</summary>
    public bool FailNextCapture { get; set; }

    /// <summary>Steps launched from captured graphs.</summary>
    public int Replays { get; private set; }

    /// <summary>Graphs captured.</summary>
    public int Captures { get; private set; }

    /// <summary>Installs a recorder on <paramref name="device"/>'s kernels; with <paramref name="graphs"/> also as its graph capture.</summary>
    public static LaunchRecorder Install(ComputeDevice device, bool graphs)
    {
        var recorder = new LaunchRecorder();
        var onLaunch = typeof(LaunchRecorder).GetMethod(nameof(OnLaunch), BindingFlags.NonPublic | BindingFlags.Instance)!;
        foreach (var field in typeof(DeviceKernelSet).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            var original = (Delegate)field.GetValue(device.Kernels)!;
            var parameters = field.FieldType.GetMethod("Invoke")!.GetParameters().Select(p => Expression.Parameter(p.ParameterType)).ToArray();
            var body = Expression.Call(Expression.Constant(recorder), onLaunch, Expression.Constant(field.Name), Expression.Constant(original, typeof(Delegate)),
                Expression.NewArrayInit(typeof(object), parameters.Select(p => Expression.Convert(p, typeof(object)))));
            field.SetValue(device.Kernels, Expression.Lambda(field.FieldType, body, parameters).Compile());
        }
        if (graphs) device.GraphCapture = recorder;
        return recorder;
    }

    private void OnLaunch(string name, Delegate kernel, object?[] args)
    {
        if (_capturing is not null)
        {
            _capturing.Add((kernel, args));
            return;
        }
        Log?.Add($"{name}({string.Join(", ", args.Select(Describe))})");
        kernel.DynamicInvoke(args);
    }

    private static string Describe(object? arg)
    {
        if (arg is null) return "null";
        var t = arg.GetType();
        if (t.Name.StartsWith("ArrayView", StringComparison.Ordinal))
        {
            object? Get(string p) => t.GetProperty(p, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(arg); // Buffer is internal
            return $"view#{RuntimeHelpers.GetHashCode(Get("Buffer")!)}+{Get("Index")}:{Get("Length")}";
        }
        return arg.ToString() ?? "";
    }

    public void Begin() => _capturing = [];

    public void Abort() => _capturing = null;

    public ICapturedGraph End()
    {
        var launches = _capturing!;
        _capturing = null;
        if (FailNextCapture)
        {
            FailNextCapture = false;
            throw new InvalidOperationException("cuStreamEndCapture failed with CUDA error 900 (emulated)");
        }
        Captures++;
        return new Graph(this, launches);
    }

    private sealed class Graph(LaunchRecorder recorder, List<(Delegate Kernel, object?[] Args)> launches) : ICapturedGraph
    {
        public void Launch()
        {
            recorder.Replays++;
            foreach (var (kernel, args) in launches) kernel.DynamicInvoke(args);
        }

        public void Dispose() => launches.Clear();
    }
}
