namespace NormalizingFlows.Cuda;

// the flow-matching step of a continuous flow (Training/FlowMatchingLoss on the device; DeviceFlowMatching drives it)
public sealed partial class DeviceFlow
{
    /// <summary>The velocity field of a flow that is one continuous layer (the flows flow matching trains); null for any other flow.</summary>
    internal DeviceVectorField? MatchingField => _layers is [DeviceContinuous continuous] ? continuous.Field : null;

    /// <summary>
    /// One flow-matching Adam step (Training/FlowMatchingLoss, no ODE) on the events x₁ [N, D] with the draws t [N]
    /// and x₀ [N, D]: x_t = (1 − keep·t)x₀ + t·x₁ and u = x₁ − keep·x₀ (keep = 1 − σ_min), the loss
    /// (1/(N·D)) Σ_r w_r ‖v_θ(x_t, t, c_r) − u_r‖² with the loss <paramref name="weights"/> [N] (the set's weights over
    /// their mean; null: all 1) and the context [N, C] through the context embedding when there is one (it trains with
    /// the field); backward, clip and Adam as <see cref="TrainStep"/>'s. The loss is added to
    /// <paramref name="lossSum"/>[0] when given and returned (before the step) when <paramref name="readLoss"/>.
    /// <paramref name="scratch"/> holds x_t, u, g_v [N, D] and the per-row loss [N] (the caller's, kept between steps).
    /// </summary>
    /// <remarks>
    /// With <paramref name="draws"/> (the launches that fill <paramref name="time"/> and <paramref name="x0"/> on the
    /// device, their step read from a device buffer written before the call) the draws run first and a step that does
    /// not read its loss runs as a captured graph once warm (<see cref="DeviceStepGraph"/>); without them it is eager.
    /// </remarks>
    internal float? MatchingStep(DeviceTensor x1, DeviceTensor time, DeviceTensor x0, DeviceTensor? context, DeviceTensor? weights, float keep,
        double learningRate, bool readLoss, DeviceTensor? lossSum, DeviceWorkspace scratch, Action? draws = null)
    {
        var field = MatchingField ?? throw new NotSupportedException("DeviceFlow: flow matching trains a flow that is one ContinuousTransform");
        CheckInput(x1, nameof(x1), context);
        int n = x1.Rows;
        Check(x0, nameof(x0), n, Features);
        Check(time, nameof(time), n);
        if (weights is not null) Check(weights, nameof(weights), n);
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        BeginStep(learningRate);
        if (draws is null || readLoss || Device.GraphCapture is null) MatchingLaunches(x1, time, x0, context, weights, keep, readLoss, lossSum, scratch, draws);
        else MatchingAsGraph(x1, time, x0, context, weights, keep, lossSum, scratch, draws);
        return readLoss ? _sum.Download().ReadOnlySpan[0] : null;
    }

    // the closures live here, so that the eager path allocates none
    private void MatchingAsGraph(DeviceTensor x1, DeviceTensor time, DeviceTensor x0, DeviceTensor? context, DeviceTensor? weights, float keep,
        DeviceTensor? lossSum, DeviceWorkspace scratch, Action draws) =>
        _graph.Run(() => new StepKey(16, x1.Rows, x1.Pointer, context?.Pointer ?? 0, weights?.Pointer ?? 0, lossSum?.Pointer ?? 0, time.Pointer, x0.Pointer,
            ClipNorm is not null, TrackContextGradient, Device.Allocations), () => MatchingLaunches(x1, time, x0, context, weights, keep, false, lossSum, scratch, draws));

    /// <summary>The launches of a flow-matching step (after <see cref="BeginStep"/>): the draws when given, the path, the field, the loss, backward, clip, Adam.</summary>
    private void MatchingLaunches(DeviceTensor x1, DeviceTensor time, DeviceTensor x0, DeviceTensor? context, DeviceTensor? weights, float keep,
        bool readLoss, DeviceTensor? lossSum, DeviceWorkspace scratch, Action? draws)
    {
        var field = MatchingField!;
        int n = x1.Rows;
        draws?.Invoke();
        scratch.Prepare(n);
        var (xt, target, gv, rowLoss) = (scratch[0], scratch[1], scratch[2], scratch[3]);
        if (n > 0) Device.Kernels.MatchingInterpolate((int)x1.Length, x0.View, x1.View, time.View, xt.View, target.View, Features, keep);
        var conditioner = field.ContextFeatures == 0 ? null : Embed(context);
        var v = field.Forward(xt, time, conditioner);
        var ones = Device.Ones(n);
        if (n > 0) Device.Kernels.MatchingSquaredError(n, v.View, target.View, (weights ?? ones).View, gv.View, rowLoss.View, Features, 1f / ((float)n * Features));
        if (lossSum is not null) DeviceOps.Gemm(ones, false, rowLoss, false, lossSum, 1, 1, n, 1, 1);
        if (readLoss) DeviceOps.Gemm(ones, false, rowLoss, false, _sum, 1, 1, n);
        // the embedding's gradient: the field's context columns' gradient (added into a zeroed buffer)
        DeviceTensor? gContext = null;
        if (conditioner is not null && (_embedding is not null || TrackContextGradient))
        {
            _contextGradient.Prepare(n);
            gContext = _contextGradient[0];
            DeviceOps.Fill(gContext, 0);
        }
        ContextGradient = gContext;
        field.Backward(gv, null, gContext);
        if (_embedding is not null && gContext is not null) _embedding.Backward(context!, gContext);
        _adam.Apply(_linears, ClipNorm is not null, _parameters);
    }
}
