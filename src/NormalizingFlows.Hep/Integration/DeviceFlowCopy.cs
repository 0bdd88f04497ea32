using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// An integrator's copy of its host flow on a device: compiled from the host weights and optimizer on first use,
/// recompiled at the start of each training call (the host flow is the reference between calls), and copied back
/// after it — also when it fails (an integrand's exception), as the CPU's flow keeps the steps it took; when even that
/// copy fails, or the training diverged (the device steps on until a round's loss is read back, so its weights may be
/// NaN), the device copy is dropped and the host keeps its flow, so that samples and log q stay one finite flow's.
/// <paramref name="model"/> (the host flow, or the module holding it) is put in evaluation mode after each copy back.
/// </summary>
internal sealed class DeviceFlowCopy(IFlowAccelerator device, Flow<float> host, Adam<float> optimizer, Module<float> model) : IDisposable
{
    private IAcceleratedFlow? _flow;

    /// <summary>The device flow (compiled now if there is none: a part the device cannot run is refused by name).</summary>
    public IAcceleratedFlow Flow => _flow ??= device.Compile(host, optimizer);

    /// <summary>
    /// Runs <paramref name="rounds"/> on a fresh compile of the host flow, then copies the device's weights and Adam
    /// state back. <paramref name="lossBeforeEachStep"/>: the rounds read each step's loss (and gradient norm) back
    /// before taking it, so a divergence leaves finite weights (the steps before it), copied back as on any failure.
    /// </summary>
    public void Train(Action<IAcceleratedFlow> rounds, bool lossBeforeEachStep = false)
    {
        Dispose();
        var flow = Flow;
        try
        {
            rounds(flow);
        }
        catch (TrainingDivergedException) when (!lossBeforeEachStep)
        {
            // the device read the loss back at the round's end, stepping on past the non-finite one: its weights may be
            // NaN, so the host keeps the flow it had before this call, and the next use compiles that again
            Dispose();
            throw;
        }
        catch
        {
            try { CopyBack(flow); }
            catch { Dispose(); } // the next use compiles the host's flow
            throw;
        }
        CopyBack(flow);
    }

    private void CopyBack(IAcceleratedFlow flow)
    {
        flow.CopyTo(host, optimizer);
        model.Eval();
    }

    /// <summary>Frees the device copy; a later use compiles the host flow again.</summary>
    public void Dispose()
    {
        _flow?.Dispose();
        _flow = null;
    }
}
