namespace NormalizingFlows.IO;

/// <summary>
/// A model file that cannot be loaded (truncated, corrupt, not a model file, or written by an incompatible version);
/// the message names the file and the problem.
/// </summary>
public sealed class ModelFileException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public ModelFileException(string path, string problem, Exception? inner = null) : base($"{path}: {problem}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }

    /// <summary>
    /// When the file is a model file of another kind than the one asked for: that kind (<see cref="FileKinds.FlowModel"/>,
    /// or the file's "kind" metadata, e.g. "nflow-checkpoint"), so that a caller can point to the tool that reads it; else null.
    /// </summary>
    public string? FileKind { get; init; }
}
