using System.Numerics;

namespace NormalizingFlows.Models;

/// <summary>Several named flow models read from one bundle file (<see cref="ModelFile.LoadBundle{T}"/>).</summary>
public sealed class ModelBundle<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal ModelBundle(string role, IReadOnlyDictionary<string, FlowModel<T>> parts, IReadOnlyDictionary<string, string> metadata, string? created, long fileSize)
    {
        Role = role; Parts = parts; Metadata = metadata; Created = created; FileSize = fileSize;
    }

    /// <summary>What the parts make together ("nflow.role", e.g. "caloflow").</summary>
    public string Role { get; }

    /// <summary>The models by part name, in the file's order.</summary>
    public IReadOnlyDictionary<string, FlowModel<T>> Parts { get; }

    /// <summary>The bundle's free metadata (the parts keep theirs in <see cref="FlowModel{T}.Metadata"/>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Creation time, ISO 8601 UTC ("nflow.created"), or null.</summary>
    public string? Created { get; }

    /// <summary>Size of the file in bytes.</summary>
    public long FileSize { get; }
}
