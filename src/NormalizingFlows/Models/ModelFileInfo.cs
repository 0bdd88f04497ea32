using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.IO;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Training;

namespace NormalizingFlows.Models;

/// <summary>The metadata of a model file, read and validated without building the flow (<see cref="ModelFile.ReadInfo"/>).</summary>
public sealed class ModelFileInfo
{
    internal ModelFileInfo(string path, long fileSize, int formatVersion, FlowSpec spec, PreprocessingSpec? preprocessing, string[] columns,
        TrainingHistory? history, long seed, string? created, string? library, IReadOnlyDictionary<string, string> metadata, SafeTensorsFile file, string checksum)
    {
        Checksum = checksum;
        Path = path; FileSize = fileSize; FormatVersion = formatVersion; Spec = spec; Preprocessing = preprocessing; Columns = columns;
        History = history; Seed = seed; Created = created; Library = library; Metadata = metadata; File = file;
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Size of the file in bytes.</summary>
    public long FileSize { get; }

    /// <summary>The "nflow.format" version.</summary>
    public int FormatVersion { get; }

    /// <summary>The architecture ("nflow.flow").</summary>
    public FlowSpec Spec { get; }

    /// <summary>The preprocessing choices ("nflow.preprocessing"), or null.</summary>
    public PreprocessingSpec? Preprocessing { get; }

    /// <summary>Column names ("nflow.columns").</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Training history ("nflow.history"), or null.</summary>
    public TrainingHistory? History { get; }

    /// <summary>The recorded seed ("nflow.seed").</summary>
    public long Seed { get; }

    /// <summary>Creation time, ISO 8601 UTC ("nflow.created"), or null.</summary>
    public string? Created { get; }

    /// <summary>Library version that wrote the file ("nflow.library"), or null.</summary>
    public string? Library { get; }

    /// <summary>The free metadata (every key not starting with "nflow.").</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Context column names ("nflow.context-columns"), or null when the file has no context map.</summary>
    public IReadOnlyList<string>? ContextColumns { get; init; }

    /// <summary>The context preprocessing choices ("nflow.context-preprocessing"), or null.</summary>
    public PreprocessingSpec? ContextPreprocessing { get; init; }

    /// <summary>The context embedding's recipe ("nflow.embedding"), or null.</summary>
    public EmbeddingSpec? Embedding { get; init; }

    /// <summary>The parsed safetensors content.</summary>
    internal SafeTensorsFile File { get; }

    /// <summary>The "nflow.checksum" entry (verified by <see cref="ModelFile.Load{T}(string, bool)"/>).</summary>
    internal string Checksum { get; }
}
