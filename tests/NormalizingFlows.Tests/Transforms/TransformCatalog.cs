using System.Reflection;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Transforms;

/// <summary>Where a transform's inputs live (what the matrix feeds it).</summary>
public enum InputDomain
{
    /// <summary>Any real value: standard-normal rows and rows far out (±5…±50).</summary>
    Real,
    /// <summary>(0, 1) only (e.g. logit).</summary>
    UnitInterval,
    /// <summary>(−1, 1) only (e.g. inverse tanh).</summary>
    Symmetric,
    /// <summary>Angles in [−3, 3], inside the circle [−π, π) away from its seam (circular splines wrap other values).</summary>
    Circle,
}

/// <summary>One entry of the transform test matrix: how to build the transform in double and in float.</summary>
public sealed record TransformCase(
    string Name,
    Func<Rng, Transform<double>> MakeDouble,
    Func<Rng, Transform<float>> MakeFloat,
    int Features,
    int ContextFeatures = 0,
    bool Autoregressive = false,
    InputDomain Domain = InputDomain.Real,
    bool RandomizeParameters = true)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// The catalog of every transform under test. Each family adds a partial file with a
/// <c>public static readonly TransformCase[] Something = [...]</c> field; <see cref="All"/> gathers them all.
/// </summary>
public static partial class TransformCatalog
{
    private static readonly Lazy<TransformCase[]> AllCases = new(() => typeof(TransformCatalog)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(TransformCase[]))
        .OrderBy(f => f.Name, StringComparer.Ordinal)
        .SelectMany(f => (TransformCase[])f.GetValue(null)!)
        .ToArray());

    /// <summary>Every case of every partial file (gathered after all static fields are initialised).</summary>
    public static IReadOnlyList<TransformCase> All => AllCases.Value;

    /// <summary>Looks a case up by name.</summary>
    public static TransformCase Get(string name) => All.FirstOrDefault(c => c.Name == name)
        ?? throw new ArgumentException($"no transform case named '{name}'");

    /// <summary>Case names for xunit's MemberData.</summary>
    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (var c in All) d.Add(c.Name);
        return d;
    }

    /// <summary>Structural transforms (composite, inverse, permutations).</summary>
    public static readonly TransformCase[] Structural =
    [
        new("permutation_reverse", _ => Permutation<double>.Reverse(5), _ => Permutation<float>.Reverse(5), 5),
        new("permutation_random", r => Permutation<double>.Random(6, r), r => Permutation<float>.Random(6, r), 6),
        new("inverse_permutation", r => new InverseTransform<double>(Permutation<double>.Random(4, r)),
            r => new InverseTransform<float>(Permutation<float>.Random(4, r)), 4),
        new("composite_permutations", r => new CompositeTransform<double>(Permutation<double>.Random(4, r), Permutation<double>.Reverse(4)),
            r => new CompositeTransform<float>(Permutation<float>.Random(4, r), Permutation<float>.Reverse(4)), 4),
    ];
}
