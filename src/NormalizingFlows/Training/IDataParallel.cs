namespace NormalizingFlows.Training;

/// <summary>
/// The processes of a data-parallel training run (MPI ranks, say): <see cref="TrainingLoop{T}"/> with
/// <see cref="TrainingOptions.DataParallel"/> trains on this process's share of every batch and sums the processes'
/// gradients with <see cref="AllReduceSum(Span{float})"/> before each optimizer step. Every process must make the same
/// calls in the same order.
/// </summary>
public interface IDataParallel
{
    /// <summary>This process, 0 … <see cref="Size"/> − 1; process 0 writes the checkpoints.</summary>
    int Rank { get; }

    /// <summary>The number of processes.</summary>
    int Size { get; }

    /// <summary>Replaces <paramref name="values"/> on every process by their element-wise sum over all processes (the same bits everywhere).</summary>
    void AllReduceSum(Span<float> values);

    /// <summary>Replaces <paramref name="values"/> on every process by their element-wise sum over all processes (the same bits everywhere).</summary>
    void AllReduceSum(Span<double> values);
}
