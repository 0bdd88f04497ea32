namespace NormalizingFlows.IO;

/// <summary>
/// Names the kind of a safetensors file this library wrote, from its metadata, so that a reader can refuse a file of
/// another kind with a message that says what the file is.
/// </summary>
public static class FileKinds
{
    /// <summary>The kind of a flow model file (its metadata holds <see cref="FlowModelFormatKey"/>).</summary>
    public const string FlowModel = "nflow-model";

    /// <summary>The metadata key whose presence marks a flow model file.</summary>
    public const string FlowModelFormatKey = "nflow.format";

    /// <summary>The metadata key under which every other kind names itself (e.g. "nflow-checkpoint").</summary>
    public const string KindKey = "kind";

    /// <summary>
    /// The kind of a file from its metadata: <see cref="FlowModel"/> when <see cref="FlowModelFormatKey"/> is present,
    /// else its <see cref="KindKey"/> entry, else null.
    /// </summary>
    public static string? Of(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.ContainsKey(FlowModelFormatKey) ? FlowModel : metadata.TryGetValue(KindKey, out var k) ? k : null;
    }
}
