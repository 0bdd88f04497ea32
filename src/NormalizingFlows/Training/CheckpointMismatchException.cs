namespace NormalizingFlows.Training;

/// <summary>
/// Thrown when a checkpoint is resumed with other settings or other data than it was written with; <see cref="Setting"/>
/// names the first difference ("data" for the training or validation events).
/// </summary>
public sealed class CheckpointMismatchException : IOException
{
    /// <summary>Creates the exception.</summary>
    public CheckpointMismatchException(string path, string setting, string message) : base(message)
    {
        Path = path;
        Setting = setting;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>The differing setting (a <see cref="TrainingOptions"/> property, a <see cref="TrainingOptions.RunSettings"/> key, or "data").</summary>
    public string Setting { get; }
}
