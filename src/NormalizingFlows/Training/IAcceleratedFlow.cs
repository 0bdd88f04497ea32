using NormalizingFlows.Flows;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>
/// A flow compiled onto an <see cref="IFlowAccelerator"/>: its weights, gradients and Adam state live on the device
/// until <see cref="CopyTo"/> writes them back. Not thread-safe.
/// </summary>
/// <remarks>
/// Three callers use three groups of members: maximum-likelihood training (<see cref="SetTrainingData"/>,
/// <see cref="TrainStep"/>, <see cref="TakeLossSum"/>, <see cref="LogProb"/> for validation; <see cref="TrainingLoop{T}"/>);
/// sampling and scoring (<see cref="Sample"/>, <see cref="Inverse"/>, <see cref="LogProb"/>); and the sampled-divergence
/// training of a unit-cube flow (<see cref="SampleUnitCube"/>, <see cref="SetDivergenceRound"/>,
/// <see cref="DivergenceStep"/>, <see cref="TakeLossSum"/>; the integrators). A loss computed on the host from the
/// flow's log-density (with host parameters of its own, e.g. the multichannel integrator's channel-weight network) uses
/// <see cref="ForwardLogProb"/>, <see cref="BackwardLogProb"/> and <see cref="ApplyGradients"/>. Density distillation,
/// which compiles two flows, is <see cref="IAcceleratedDistillation"/>.
/// </remarks>
public interface IAcceleratedFlow : IDisposable
{
    /// <summary>
    /// Uploads the training events x [N, D] once, with their context [N, C] for a conditional flow and their weights
    /// [N] (as <see cref="TrainingData{T}.Weights"/>; the loss is then <see cref="MaximumLikelihoodLoss{T}"/>'s
    /// weighted loss); <see cref="TrainStep"/> draws its rows from them on the device. A device may instead keep a set
    /// too large for its memory on the host and upload each step's rows (the tensors must then not change while training).
    /// </summary>
    void SetTrainingData(Tensor<float> x, Tensor<float>? context = null, Tensor<float>? weights = null);

    /// <summary>
    /// One maximum-likelihood Adam step on <paramref name="rows"/> of the training data (in that order) with
    /// <paramref name="learningRate"/>, the gradients clipped to the global norm <paramref name="clipNorm"/> when given
    /// (as <see cref="GradientClipping"/> does). The loss stays on the device, summed for <see cref="TakeLossSum"/>.
    /// </summary>
    void TrainStep(ReadOnlySpan<int> rows, double learningRate, double? clipNorm);

    /// <summary>The sum of the losses of the steps since the last call (reads it back: waits for the device).</summary>
    double TakeLossSum();

    /// <summary>log p(x | context) per row of x [N, D] (context [N, C] for a conditional flow), computed on the device.</summary>
    float[] LogProb(Tensor<float> x, Tensor<float>? context = null);

    /// <summary><paramref name="n"/> samples [n, D] drawn on the device from <paramref name="seed"/> (one per row of the context [n, C] of a conditional flow).</summary>
    Tensor<float> Sample(int n, long seed, Tensor<float>? context = null);

    /// <summary>
    /// x = T⁻¹(z | context) for the host's base points z [n, D] (context [n, C] for a conditional flow), computed on the
    /// device: the flow's samples from given base draws (e.g. the CPU's <c>Base.Sample</c> with an <see cref="Rng"/>).
    /// Masked autoregressive layers sample with an incremental MADE (about one pass of work), or with D full MADE
    /// passes each when <paramref name="fullPasses"/> (as CaloFlow v1 and nflows do; for timing comparisons).
    /// </summary>
    Tensor<float> Inverse(Tensor<float> z, Tensor<float>? context = null, bool fullPasses = false);

    /// <summary>
    /// <paramref name="n"/> points x ~ q of a unit-cube flow (a <see cref="Distributions.BoxUniform{T}"/> base on
    /// [0, 1]^D, e.g. i-flow's) drawn on the device from rows <paramref name="firstRow"/> … of the uniform stream of
    /// <paramref name="seed"/>, clamped to [0, 1], and log q(x) = −log|det ∂x/∂z| of the unclamped point, from the
    /// same pass; a conditional flow takes <paramref name="context"/> [n, C] (one row per draw). Throws a
    /// <see cref="NotSupportedException"/> for another base.
    /// </summary>
    (Tensor<float> X, Tensor<float> LogQ) SampleUnitCube(int n, long seed, long firstRow = 0, Tensor<float>? context = null);

    /// <summary>
    /// Uploads a <see cref="SampledDivergenceLoss{T}"/> round of a unit-cube flow: the stored points x [N, D] and the
    /// per-row coefficient and aux [N] of <see cref="SampledDivergenceLoss{T}.RoundCoefficients"/> for
    /// <paramref name="divergence"/>, with the points' context [N, C] for a conditional flow (e.g. the multichannel
    /// integrator's one-hot channels); <see cref="DivergenceStep"/> then trains on them.
    /// </summary>
    void SetDivergenceRound(Tensor<float> x, Divergence divergence, Tensor<float> coefficient, Tensor<float> aux, Tensor<float>? context = null);

    /// <summary>
    /// One Adam step on the round's divergence loss (as <see cref="SampledDivergenceLoss{T}"/> computes it at the
    /// current weights) with <paramref name="learningRate"/>, clipped to <paramref name="clipNorm"/> when given; the
    /// loss stays on the device, summed for <see cref="TakeLossSum"/>.
    /// </summary>
    void DivergenceStep(double learningRate, double? clipNorm);

    /// <summary>
    /// log q(x | context) per row of x [N, D] (context [N, C] for a conditional flow), computed on the device, whose
    /// pass is kept for <see cref="BackwardLogProb"/>: log|det ∂z/∂x| + log p_base(z), a unit-cube base's density taken
    /// as 1 (as <see cref="DivergenceStep"/>: the points must lie in [0, 1]^D). With <paramref name="x"/> null, the
    /// points (and context) of the previous call, kept on the device, at the current weights.
    /// </summary>
    float[] ForwardLogProb(Tensor<float>? x, Tensor<float>? context = null);

    /// <summary>
    /// Backward of the last <see cref="ForwardLogProb"/> (no other call in between) from the gradient ∂L/∂log q_r [N]
    /// of a loss L computed on the host: the flow's gradients, kept on the device for <see cref="ApplyGradients"/>;
    /// returns their sum of squares Σ g² (for a global-norm clip over the flow and the host's parameters).
    /// </summary>
    double BackwardLogProb(Tensor<float> gradient);

    /// <summary>
    /// One Adam step with <paramref name="learningRate"/> on the gradients of the last <see cref="BackwardLogProb"/>,
    /// each multiplied by <paramref name="gradientScale"/> first (as <see cref="GradientClipping"/> scales them: the
    /// clip factor of the joint norm; 1 for none).
    /// </summary>
    void ApplyGradients(double learningRate, double gradientScale = 1);

    /// <summary>
    /// Writes the device weights into <paramref name="flow"/> (the flow compiled from) and its context embedding (the
    /// one compiled with), and Adam's state into <paramref name="optimizer"/> when given.
    /// </summary>
    void CopyTo(Flow<float> flow, Adam<float>? optimizer = null);
}
