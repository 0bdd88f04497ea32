using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;

namespace NormalizingFlows.Training;

/// <summary>
/// Reverse Kullback–Leibler D(q‖p) = E_q[log q − log p̃] + log Z to a target known up to its normalisation, log p̃(x),
/// by the reparameterisation trick: each step draws <see cref="Samples"/> points from the flow (from the batch's random
/// stream, so a resumed run draws what an uninterrupted one would) with gradients through the sampling pass, for a
/// loss-driven <see cref="TrainingLoop{T}"/>. Mode-seeking: it needs no samples of the target, only its log-density,
/// which must be differentiable (built from <see cref="Ops"/>).
/// </summary>
public sealed class ReverseKullbackLeiblerLoss<T> : TrainingLoss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Func<Var<T>, Var<T>> _targetLogDensity;

    /// <summary>Creates the loss of unconditional <paramref name="flow"/> against <paramref name="targetLogDensity"/> (x [N, D] → log p̃ [N]).</summary>
    public ReverseKullbackLeiblerLoss(Flow<T> flow, Func<Var<T>, Var<T>> targetLogDensity, int samples = 256)
    {
        Flow = flow ?? throw new ArgumentNullException(nameof(flow));
        _targetLogDensity = targetLogDensity ?? throw new ArgumentNullException(nameof(targetLogDensity));
        if (flow.ContextFeatures > 0) throw new ArgumentException("the reverse-KL loss trains unconditional flows", nameof(flow));
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        Samples = samples;
    }

    /// <summary>The flow trained.</summary>
    public Flow<T> Flow { get; }

    /// <summary>Points drawn per step.</summary>
    public int Samples { get; }

    /// <inheritdoc/>
    public override Var<T> Compute(TrainingBatch<T> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (x, logq) = Flow.SampleWithLogProb(Samples, batch.Rng);
        var logp = _targetLogDensity(x);
        if (logp.Value.Length != Samples) throw new InvalidOperationException($"the target log-density gave {logp.Value.Length} values for {Samples} points");
        return Ops.Mean(Ops.Sub(logq, logp));
    }
}
