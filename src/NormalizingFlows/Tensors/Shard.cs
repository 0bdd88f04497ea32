using System.Globalization;

namespace NormalizingFlows.Tensors;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (0 ≤ Index &lt; Count) of a job split into independent parts (the
/// tasks of a batch-system array job): its share of a total count (<see cref="Share"/>) and its own random stream
/// (<see cref="Rng"/>). Shard 0/1 is the whole job: its share is the total and its stream is <c>new Rng(seed)</c>.
/// </summary>
public readonly record struct Shard
{
    /// <summary>Creates shard <paramref name="index"/> of <paramref name="count"/>.</summary>
    public Shard(int index, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "the number of shards must be ≥ 1");
        if (index < 0 || index >= count) throw new ArgumentOutOfRangeException(nameof(index), index, $"the shard index must lie in 0 … {count - 1}");
        Index = index;
        Count = count;
    }

    /// <summary>The whole job (shard 0 of 1).</summary>
    public static Shard Whole => new(0, 1);

    /// <summary>This shard's index, 0 … Count − 1.</summary>
    public int Index { get; }

    /// <summary>The number of shards.</summary>
    public int Count { get; }

    /// <summary>Parses "k/K" (0 ≤ k &lt; K); a <see cref="FormatException"/> that quotes the text otherwise.</summary>
    public static Shard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            throw new FormatException($"shard '{text}' is not k/K (shard k of K, counted from 0, e.g. 0/4)");
        if (n < 1 || k >= n) throw new FormatException($"shard '{text}': need 0 ≤ k < K and K ≥ 1");
        return new Shard(k, n);
    }

    /// <summary>
    /// This shard's part of <paramref name="total"/>: ⌊total/K⌋, one more for the first total mod K shards, so the
    /// shares of all K shards add up to the total.
    /// </summary>
    public long Share(long total)
    {
        if (total < 0) throw new ArgumentOutOfRangeException(nameof(total), total, "the total must be ≥ 0");
        return total / Count + (Index < total % Count ? 1 : 0);
    }

    /// <summary>Where this shard's part of <paramref name="total"/> starts: the shares of the shards before it, added up.</summary>
    public long Offset(long total) => Index * (total / Count) + Math.Min(Index, total % Count);

    /// <summary>The shard's random stream for <paramref name="seed"/>: <see cref="Rng.Stream"/>(seed, Index).</summary>
    public Rng Rng(long seed) => Tensors.Rng.Stream(seed, Index);

    /// <summary>"k/K".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
