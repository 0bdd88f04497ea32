namespace NormalizingFlows.Cuda;

/// <summary>
/// Captures a stream's launches into a graph and replays it: on CUDA the driver's stream capture
/// (<see cref="CudaGraphCapture"/>); in tests an emulation on the CPU accelerator that records the kernel launches
/// and replays them with the arguments they had at capture.
/// </summary>
internal interface IGraphCapture
{
    /// <summary>Starts capturing: launches from now on are recorded into the graph, not run.</summary>
    void Begin();

    /// <summary>Ends the capture and returns the replayable graph; throws when the capture failed.</summary>
    ICapturedGraph End();

    /// <summary>Ends a capture that threw midway, discarding what was recorded.</summary>
    void Abort();
}

/// <summary>A captured graph: <see cref="Launch"/> enqueues all its launches at once on the device's stream.</summary>
internal interface ICapturedGraph : IDisposable
{
    void Launch();
}

/// <summary>
/// What fixes a training step's launches: the kind of step, the batch size, the input buffers, the options that add
/// launches, and the device's allocation count (a buffer reallocated anywhere, e.g. a workspace grown by a larger
/// batch or a validation pass, moves pointers a captured graph holds, so the graph is then captured again). Two steps
/// with equal keys launch the same kernels with the same arguments (the per-step scalars live in a device buffer).
/// </summary>
internal readonly record struct StepKey(int Kind, int Rows, nint Batch, nint Context, nint Weights, nint LossSum, nint Coefficient, nint Aux,
    bool Clip, bool ContextGradient, long Allocations);

/// <summary>
/// A training step's launches run eagerly, or as one graph: a step whose <see cref="StepKey"/> was seen at an eager
/// step before (so warm-up allocations such as cuBLAS's workspace and the grown scratch buffers are done) is captured
/// and launched as a graph, and later steps with that key launch the graph. Up to <see cref="MaxGraphs"/> graphs are
/// kept, keyed by their step (e.g. an epoch's full batches and its partial last batch, which alternate), the least
/// recently used dropped first; a step that reads its loss runs eagerly. A failed capture turns graphs off for the
/// device with one message (the step then runs eagerly).
/// </summary>
internal sealed class DeviceStepGraph(ComputeDevice device) : IDisposable
{
    /// <summary>The most graphs (and warm keys) kept.</summary>
    internal const int MaxGraphs = 4;

    private readonly List<(StepKey Key, ICapturedGraph Graph)> _graphs = []; // most recently used last
    private readonly List<StepKey> _warm = [];                              // keys run eagerly, most recent last

    /// <summary>Steps launched from a captured graph (for tests).</summary>
    internal long Replays { get; private set; }

    /// <summary>Graphs captured (for tests).</summary>
    internal long Captures { get; private set; }

    /// <summary>Runs <paramref name="launches"/> (kernel launches only: no allocation, copy or synchronization once warm) for the step <paramref name="key"/> describes.</summary>
    public void Run(Func<StepKey> key, Action launches)
    {
        var capture = device.GraphCapture;
        if (capture is null)
        {
            launches();
            return;
        }
        var k = key();
        int at = _graphs.FindIndex(g => g.Key == k);
        if (at >= 0)
        {
            var hit = _graphs[at];
            _graphs.RemoveAt(at);
            _graphs.Add(hit);
            hit.Graph.Launch();
            Replays++;
            return;
        }
        if (_warm.Remove(k) && TryCapture(capture, launches) is { } graph)
        {
            if (_graphs.Count == MaxGraphs)
            {
                _graphs[0].Graph.Dispose();
                _graphs.RemoveAt(0);
            }
            _graphs.Add((k, graph));
            Captures++;
            graph.Launch();
            Replays++;
            return;
        }
        launches();
        var warm = key(); // after the launches: what they allocated is part of the state a capture would see
        _warm.Remove(warm);
        if (_warm.Count == MaxGraphs) _warm.RemoveAt(0);
        _warm.Add(warm);
    }

    private ICapturedGraph? TryCapture(IGraphCapture capture, Action launches)
    {
        try
        {
            long allocations = device.Allocations;
            capture.Begin();
            try
            {
                launches();
                if (device.Allocations != allocations) throw new InvalidOperationException("the step allocated device memory while it was captured");
            }
            catch
            {
                capture.Abort();
                throw;
            }
            return capture.End();
        }
        catch (Exception e)
        {
            // nothing of the step ran: the caller runs it eagerly
            device.DisableGraphs(e);
            return null;
        }
    }

    public void Dispose()
    {
        foreach (var (_, graph) in _graphs) graph.Dispose();
        _graphs.Clear();
        _warm.Clear();
    }
}
