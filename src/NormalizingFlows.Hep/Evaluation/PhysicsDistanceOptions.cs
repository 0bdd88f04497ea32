namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// Settings of <see cref="PhysicsDistance"/>; the defaults are JetNet's (Kansal et al. 2023, arXiv:2211.10295),
/// except the kernel degree (3, the cubic kernel of the kernel inception distance; JetNet's current code uses 4).
/// </summary>
public sealed record PhysicsDistanceOptions
{
    /// <summary>Divide every feature by its largest absolute value in the reference sample (a feature that is all 0 is left alone).</summary>
    public bool Normalise { get; init; } = true;

    /// <summary>Smallest FPD batch (events drawn from each sample, with replacement).</summary>
    public int FpdMinSamples { get; init; } = 20_000;

    /// <summary>
    /// Largest FPD batch. When a sample is smaller, the largest batch is the smaller sample's size and the smallest
    /// shrinks in proportion (so the batches stay within what was measured).
    /// </summary>
    public int FpdMaxSamples { get; init; } = 50_000;

    /// <summary>FPD batch sizes, evenly spaced in 1/N between the smallest and the largest.</summary>
    public int FpdPoints { get; init; } = 10;

    /// <summary>Batches averaged at each FPD batch size.</summary>
    public int FpdBatches { get; init; } = 20;

    /// <summary>KPD batches (each an unbiased MMD² estimate).</summary>
    public int KpdBatches { get; init; } = 10;

    /// <summary>Events drawn from each sample per KPD batch (with replacement), at most the smaller sample's size.</summary>
    public int KpdBatchSize { get; init; } = 5_000;

    /// <summary>Degree of the polynomial kernel k(x, y) = (x·y/d + 1)^degree of the KPD.</summary>
    public int KernelDegree { get; init; } = 3;

    /// <summary>Seed of the batch draws.</summary>
    public long Seed { get; init; } = 42;

    internal void Validate()
    {
        if (FpdMinSamples < 2) throw new ArgumentOutOfRangeException(nameof(FpdMinSamples), FpdMinSamples, "must be ≥ 2");
        if (FpdMaxSamples <= FpdMinSamples) throw new ArgumentOutOfRangeException(nameof(FpdMaxSamples), FpdMaxSamples, $"must exceed FpdMinSamples ({FpdMinSamples})");
        if (FpdPoints < 3) throw new ArgumentOutOfRangeException(nameof(FpdPoints), FpdPoints, "the extrapolation needs ≥ 3 batch sizes");
        if (FpdBatches < 1) throw new ArgumentOutOfRangeException(nameof(FpdBatches), FpdBatches, "must be ≥ 1");
        if (KpdBatches < 1) throw new ArgumentOutOfRangeException(nameof(KpdBatches), KpdBatches, "must be ≥ 1");
        if (KpdBatchSize < 2) throw new ArgumentOutOfRangeException(nameof(KpdBatchSize), KpdBatchSize, "must be ≥ 2");
        if (KernelDegree < 1) throw new ArgumentOutOfRangeException(nameof(KernelDegree), KernelDegree, "must be ≥ 1");
    }
}
