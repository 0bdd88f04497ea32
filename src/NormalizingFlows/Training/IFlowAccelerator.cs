using NormalizingFlows.Flows;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Optim;
using NormalizingFlows.Transforms.Continuous;

namespace NormalizingFlows.Training;

/// <summary>
/// A device that trains and scores flows (a GPU): <see cref="TrainingOptions.Device"/> hands it to
/// <see cref="TrainingLoop{T}"/>, which then runs maximum-likelihood steps, validation and sampling there. Implemented
/// outside the core library (<c>NormalizingFlows.Cuda</c>'s <c>ComputeDevice</c>), as <see cref="IDataParallel"/> is.
/// </summary>
public interface IFlowAccelerator
{
    /// <summary>The device's name (shown in errors), e.g. "NVIDIA H200".</summary>
    string Name { get; }

    /// <summary>
    /// Puts <paramref name="flow"/>'s current weights on the device, with <paramref name="optimizer"/>'s Adam moments,
    /// step count, β1, β2, ε and weight decay (L2 or AdamW's decoupled) when given (a resumed run), behind the trainable context <paramref name="embedding"/>
    /// when given (its output is the flow's context; the accelerated flow's context is then the embedding's input, and
    /// it trains, copies back and carries Adam's moments with the flow's). Throws a <see cref="NotSupportedException"/>
    /// naming the part of the flow (or embedding) the device cannot run.
    /// </summary>
    IAcceleratedFlow Compile(Flow<float> flow, Adam<float>? optimizer = null, ContextEmbedding<float>? embedding = null);

    /// <summary>
    /// Puts the frozen MAF <paramref name="teacher"/> and the IAF <paramref name="student"/> (current weights, with
    /// <paramref name="optimizer"/>'s Adam state over the student's parameters when given) on the device for
    /// <see cref="DistillationTrainer{T}"/>'s steps with the z-pass, the x-pass or both. Throws a
    /// <see cref="NotSupportedException"/> naming what the device cannot run (by default: distillation itself).
    /// </summary>
    IAcceleratedDistillation CompileDistillation(Flow<float> teacher, Flow<float> student, Adam<float>? optimizer, bool zPass, bool xPass)
        => throw new NotSupportedException($"{Name}: density distillation is not supported on this device");

    /// <summary>
    /// Puts the continuous <paramref name="flow"/> (its transform one <see cref="ContinuousTransform{T}"/>; current
    /// weights) on the device for <see cref="FlowMatchingLoss{T}"/>'s steps with path width <paramref name="sigmaMin"/>,
    /// behind the trainable context <paramref name="embedding"/> when given (the accelerated flow's context is then the
    /// embedding's input), with <paramref name="optimizer"/>'s Adam state over their parameters when given. Throws a
    /// <see cref="NotSupportedException"/> naming what the device cannot run (by default: flow matching itself).
    /// </summary>
    IAcceleratedFlowMatching CompileFlowMatching(Flow<float> flow, double sigmaMin, Adam<float>? optimizer = null, ContextEmbedding<float>? embedding = null)
        => throw new NotSupportedException($"{Name}: flow matching is not supported on this device");
}
