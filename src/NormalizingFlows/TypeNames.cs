namespace NormalizingFlows;

/// <summary>Type names for messages: "CompositeTransform", not the CLR's "CompositeTransform`1".</summary>
internal static class TypeNames
{
    /// <summary>The type's name without the generic arity suffix, e.g. "MaskedAutoregressiveTransform".</summary>
    public static string Of(Type type)
    {
        string name = type.Name;
        int tick = name.IndexOf('`', StringComparison.Ordinal);
        return tick < 0 ? name : name[..tick];
    }

    /// <summary>The name of <paramref name="value"/>'s runtime type, as <see cref="Of(Type)"/>.</summary>
    public static string Of(object value) => Of(value.GetType());
}
