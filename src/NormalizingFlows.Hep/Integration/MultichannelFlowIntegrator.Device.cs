using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Integration;

// The device's training with a loss computed on the host: the channel-weight network and the mixture loss.
public sealed partial class MultichannelFlowIntegrator
{
    /// <summary>The host flow's log q(x | context) per row (its log|det|: the unit cube's base density is 1), without gradients.</summary>
    private static float[] HostLogDensity(Flow<float> flow, Tensor<float> x, Tensor<float> context)
    {
        using var scope = TensorScope.Begin();
        using var _ = GradMode.Disable();
        return flow.Transform.Forward(new Var<float>(x), new Var<float>(context)).LogAbsDet.Value.ReadOnlySpan.ToArray();
    }

    /// <summary>
    /// <see cref="Train"/> on the device with the channel-weight network (<see cref="VarianceLoss"/>) or the mixture
    /// loss (<see cref="MixtureLoss"/>): the CPU's rounds, losses, schedule and clip, step by step. Each round is drawn
    /// on the device and prepared as on the CPU (the balance weights and the mixture's old density from the device
    /// flow); each step runs the flow forward on the device (<see cref="IAcceleratedFlow.ForwardLogProb"/>: log q per
    /// row down), computes the loss on the host with autograd over that log q and the network, sends ∂loss/∂log q up
    /// (<see cref="IAcceleratedFlow.BackwardLogProb"/>: Σ g² of the flow's gradients back), clips flow and network to
    /// their joint norm as <see cref="GradientClipping"/> does, and takes Adam's step on both.
    /// </summary>
    private void HostLossRounds(IAcceleratedFlow flow, int rounds, CosineDecaySchedule schedule)
    {
        var o = Options.Flow;
        int steps = o.StepsPerRound;
        var variance = Options.MixtureLoss ? null : new VarianceLoss(this);
        var mixture = Options.MixtureLoss ? new MixtureLoss(this) : null;
        IReadOnlyList<Parameter<float>> network = _channelOptimizer?.Parameters ?? [];
        for (int r = 0; r < rounds; r++)
        {
            using var roundScope = TensorScope.Begin();
            var round = Draw(o.SamplesPerRound);
            Tensor<float> x, context;
            if (mixture is not null)
            {
                Reallocate(round, mixture.Prepare(round, (px, pc) => flow.ForwardLogProb(px, pc), null));
                if (mixture.Skip) { RoundLosses.Add(double.NaN); continue; } // its steps are skipped, as on the CPU
                (x, context) = mixture.Rows;
            }
            else
            {
                variance!.Prepare(round);
                if (variance.Skip) { RoundLosses.Add(double.NaN); continue; }
                (x, context) = variance.Points;
            }
            for (int s = 0; s < steps; s++)
            {
                int step = r * steps + s;
                using var stepScope = TensorScope.Begin();
                // the round's points go down once; later steps run the flow on them again at the new weights
                var logq = new Var<float>(Tensor<float>.From(s == 0 ? flow.ForwardLogProb(x, context) : flow.ForwardLogProb(null), x.Rows), requiresGrad: true);
                _channelOptimizer?.ZeroGrad();
                var loss = mixture is not null ? Ops.Sum(mixture.Terms(logq)) : variance!.Loss(logq);
                double value = loss.Value.ReadOnlySpan[0];
                if (s == 0) RoundLosses.Add(value);
                StepLosses.Add(value);
                if (!double.IsFinite(value))
                    throw new TrainingDivergedException(step, null, $"the training loss became {value} at step {step}",
                        "Lower the learning rate or clip gradients harder (FlowIntegratorOptions.ClipNorm).");
                loss.Backward();
                double squares = flow.BackwardLogProb(logq.Grad ?? Tensor<float>.Zeros(x.Rows));
                double scale = 1;
                if (o.ClipNorm is { } clip)
                {
                    // GradientClipping.ClipGlobalNorm over the flow (its Σ g² from the device) and the network
                    foreach (var p in network)
                        if (p.Trainable && p.Grad is { IsDisposed: false } g) squares += Reductions.Dot(g.ReadOnlySpan, g.ReadOnlySpan);
                    double norm = Math.Sqrt(squares);
                    if (!double.IsFinite(norm))
                        throw new TrainingDivergedException(step, null, $"the gradient norm became {norm} at step {step} (loss {value:G6})",
                            "Lower the learning rate or clip gradients harder (FlowIntegratorOptions.ClipNorm).");
                    if (norm > clip)
                    {
                        float factor = (float)(clip / (norm + 1e-6));
                        scale = factor;
                        foreach (var p in network)
                            if (p.Trainable && p.Grad is { IsDisposed: false } g) Elementwise.ScaleShift(g.ReadOnlySpan, factor, 0f, g.Span);
                    }
                }
                double lr = schedule.LearningRate(step);
                flow.ApplyGradients(lr, scale);
                if (_channelOptimizer is { } adam)
                {
                    adam.LearningRate = lr;
                    adam.Step();
                }
            }
        }
    }
}
