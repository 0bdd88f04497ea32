namespace NormalizingFlows.Transforms.Coupling;

/// <summary>
/// Which features a coupling layer transforms (true) and which it conditions on (false). Build one with
/// <see cref="Half"/>, <see cref="Alternating"/>, <see cref="Checkerboard(int, int, bool, int)"/> or
/// <see cref="Custom"/>; both sets must be non-empty. <see cref="TransformedIndices"/> and
/// <see cref="ConditioningIndices"/> are the two column sets in increasing order.
/// </summary>
public sealed class CouplingMask
{
    private readonly bool[] _transformed;

    private CouplingMask(bool[] transformed)
    {
        _transformed = transformed;
        TransformedIndices = Enumerable.Range(0, transformed.Length).Where(i => transformed[i]).ToArray();
        ConditioningIndices = Enumerable.Range(0, transformed.Length).Where(i => !transformed[i]).ToArray();
        if (TransformedIndices.Length == 0 || ConditioningIndices.Length == 0)
            throw new ArgumentException($"a coupling mask over {transformed.Length} features needs at least one transformed and one conditioning feature " +
                $"(got {TransformedIndices.Length} transformed, {ConditioningIndices.Length} conditioning); coupling layers need D ≥ 2");
    }

    /// <summary>Number of features D.</summary>
    public int Features => _transformed.Length;

    /// <summary>True where feature i is transformed.</summary>
    public IReadOnlyList<bool> Transformed => _transformed;

    /// <summary>Columns that are transformed, increasing.</summary>
    public int[] TransformedIndices { get; }

    /// <summary>Columns that pass through unchanged and feed the conditioner, increasing.</summary>
    public int[] ConditioningIndices { get; }

    /// <summary>True where feature i is transformed (a copy).</summary>
    public bool[] ToArray() => (bool[])_transformed.Clone();

    /// <summary>The complementary mask (transformed and conditioning sets swapped).</summary>
    public CouplingMask Flipped() => new(_transformed.Select(b => !b).ToArray());

    /// <summary>
    /// Transforms the second half, features ⌊D/2⌋ … D−1 (conditioning on the first ⌊D/2⌋), or with
    /// <paramref name="flip"/> the first half.
    /// </summary>
    public static CouplingMask Half(int features, bool flip = false)
    {
        CheckFeatures(features);
        return new(Enumerable.Range(0, features).Select(i => (i >= features / 2) != flip).ToArray());
    }

    /// <summary>Transforms the even features 0, 2, 4, … (or the odd ones with <paramref name="even"/> false), as nflows' alternating mask.</summary>
    public static CouplingMask Alternating(int features, bool even = true)
    {
        CheckFeatures(features);
        return new(Enumerable.Range(0, features).Select(i => i % 2 == (even ? 0 : 1)).ToArray());
    }

    /// <summary>
    /// Checkerboard over image-like features laid out [channels, height, width] row-major: feature (c, h, w) is
    /// transformed when h + w is even (odd with <paramref name="even"/> false), in every channel.
    /// </summary>
    public static CouplingMask Checkerboard(int height, int width, bool even = true, int channels = 1)
    {
        if (height <= 0 || width <= 0 || channels <= 0)
            throw new ArgumentOutOfRangeException(nameof(height), $"checkerboard needs positive sizes, got {channels}×{height}×{width}");
        var m = new bool[channels * height * width];
        for (int c = 0; c < channels; c++)
            for (int h = 0; h < height; h++)
                for (int w = 0; w < width; w++) m[(c * height + h) * width + w] = (h + w) % 2 == (even ? 0 : 1);
        return new(m);
    }

    /// <summary>The 1-D checkerboard: the same as <see cref="Alternating"/>.</summary>
    public static CouplingMask Checkerboard(int features, bool even = true) => Alternating(features, even);

    /// <summary>A custom mask: <paramref name="transformed"/>[i] is true where feature i is transformed.</summary>
    public static CouplingMask Custom(bool[] transformed)
    {
        ArgumentNullException.ThrowIfNull(transformed);
        CheckFeatures(transformed.Length);
        return new((bool[])transformed.Clone());
    }

    private static void CheckFeatures(int features)
    {
        if (features < 2) throw new ArgumentOutOfRangeException(nameof(features), features, "coupling layers need at least 2 features");
    }

    /// <inheritdoc/>
    public override string ToString() => "[" + string.Concat(_transformed.Select(b => b ? 'T' : '.')) + "]";
}
