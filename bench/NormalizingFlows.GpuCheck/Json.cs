using System.Text.Encodings.Web;
using System.Text.Json;

namespace NormalizingFlows.GpuCheck;

/// <summary>One JSON object per line on stdout.</summary>
internal static class Json
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Line(params (string Key, object? Value)[] fields)
    {
        var dict = new Dictionary<string, object?>();
        foreach (var (k, v) in fields) dict[k] = v is double d && !double.IsFinite(d) ? d.ToString() : v;
        Console.WriteLine(JsonSerializer.Serialize(dict, Options));
        Console.Out.Flush();
    }
}
