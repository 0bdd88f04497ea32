namespace NormalizingFlows.IO;

/// <summary>A safetensors file that is malformed (an <see cref="IOException"/>); the message names the file and the problem.</summary>
public sealed class SafeTensorsFormatException : IOException
{
    /// <summary>Creates the exception for <paramref name="source"/> (a path or "&lt;memory&gt;").</summary>
    public SafeTensorsFormatException(string source, string problem, Exception? inner = null)
        : base($"{source}: invalid safetensors file: {problem}", inner)
    {
        FilePath = source;
        Problem = problem;
    }

    /// <summary>The file (or "&lt;memory&gt;") that failed to parse.</summary>
    public string FilePath { get; }

    /// <summary>The problem, without the file name.</summary>
    public string Problem { get; }
}
