namespace NormalizingFlows.Data;

/// <summary>A data file could not be read: the message names the file and, where it applies, the line and column.</summary>
public sealed class DataFormatException : IOException
{
    /// <summary>Creates the exception with a located message.</summary>
    public DataFormatException(string path, string problem, int? line = null, int? column = null)
        : base(Locate(path, line, column) + ": " + problem)
    {
        FilePath = path;
        Line = line;
        Column = column;
        Problem = problem;
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }

    /// <summary>1-based line, when known.</summary>
    public int? Line { get; }

    /// <summary>1-based column (field number), when known.</summary>
    public int? Column { get; }

    /// <summary>What is wrong.</summary>
    public string Problem { get; }

    private static string Locate(string path, int? line, int? column) =>
        path + (line is { } l ? $":{l}" + (column is { } c ? $":{c}" : "") : "");
}
