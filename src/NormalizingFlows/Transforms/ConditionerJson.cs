using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace NormalizingFlows.Transforms;

/// <summary>JSON of the library's settings records: camelCase names, enums as strings, unknown fields refused.</summary>
internal static class ConditionerJson
{
    internal static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    internal static JsonObject ToObject(object settings) => JsonSerializer.SerializeToNode(settings, settings.GetType(), Options)!.AsObject();

    /// <summary>Reads a settings object; a <see cref="FormatException"/> names <paramref name="kind"/> and what is wrong.</summary>
    internal static T FromObject<T>(JsonObject settings, string kind)
    {
        ArgumentNullException.ThrowIfNull(settings);
        try { return settings.Deserialize<T>(Options) ?? throw new FormatException($"the {kind} settings are null"); }
        catch (JsonException ex) { throw new FormatException($"the {kind} settings are not valid: {ex.Message}", ex); }
    }
}
