using System.Numerics;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Models;

/// <summary>
/// Where <see cref="SampleStream"/> and <see cref="FlowModelTables"/> draw a model's samples from, block by block:
/// the model itself with one <see cref="Rng"/> (<see cref="SampleStream.Draws"/>), or another sampler of the same
/// model (e.g. a GPU's, NormalizingFlows.Cuda). Blocks are asked for in order, each with its first row in the stream.
/// </summary>
public interface ISampleSource<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Rows <paramref name="start"/> … <paramref name="start"/> + <paramref name="rows"/> − 1 of the stream [rows, D]
    /// in original units (a sequential source ignores <paramref name="start"/>), one per row of the
    /// <paramref name="context"/> [rows, C] (original units) of a conditional model, clamped into the training range
    /// when <paramref name="clamp"/>, as <see cref="FlowModel{T}.Sample"/> gives them.
    /// </summary>
    Tensor<T> Sample(long start, int rows, Tensor<T>? context, bool clamp);

    /// <summary>log p of each row of <paramref name="x"/> (original units) given its <paramref name="context"/> row, as <see cref="FlowModel{T}.LogProb"/>.</summary>
    double[] LogProb(Tensor<T> x, Tensor<T>? context);
}
