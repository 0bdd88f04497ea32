using NormalizingFlows.Flows;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// A <see cref="CaloFlow"/>'s flows compiled onto an <see cref="IFlowAccelerator"/> (a GPU) for generation
/// (<see cref="CaloFlow.OnDevice"/>): flow I, the teacher and the student, each compiled at its first use and kept
/// with the weights it had then. Pass it to <see cref="CaloFlow.Generate"/>, <see cref="CaloFlow.TimePerShower"/> or
/// <see cref="CaloFlow.TimeFlow2PerShower"/>; dispose it to free the device memory. Not thread-safe.
/// </summary>
public sealed class CaloDeviceFlows : IDisposable
{
    private readonly Dictionary<Flow<float>, IAcceleratedFlow> _compiled = new(ReferenceEqualityComparer.Instance);

    internal CaloDeviceFlows(CaloFlow model, IFlowAccelerator device)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Device = device ?? throw new ArgumentNullException(nameof(device));
    }

    /// <summary>The model whose flows these are.</summary>
    public CaloFlow Model { get; }

    /// <summary>The device.</summary>
    public IFlowAccelerator Device { get; }

    internal bool IsDisposed { get; private set; }

    /// <summary>
    /// <paramref name="flow"/> (one of the model's) on the device, compiled now if it is not yet; a part the device
    /// cannot run is a <see cref="NotSupportedException"/> naming it and the flow.
    /// </summary>
    internal IAcceleratedFlow For(Flow<float> flow)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (_compiled.TryGetValue(flow, out var compiled)) return compiled;
        string name = ReferenceEquals(flow, Model.Flow1) ? "flow I" : ReferenceEquals(flow, Model.Teacher) ? "the teacher" : "the student";
        try { compiled = Device.Compile(flow); }
        catch (NotSupportedException e) { throw new NotSupportedException($"CaloFlow {name}: {e.Message}", e); }
        _compiled[flow] = compiled;
        return compiled;
    }

    /// <summary>Frees the compiled flows' device memory.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        foreach (var f in _compiled.Values) f.Dispose();
        _compiled.Clear();
    }
}
