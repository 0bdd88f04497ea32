namespace NormalizingFlows.Training;

/// <summary>Thrown when the loss or the gradients stop being finite; names the step and, when it can, the layer.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(long step, string? layer, string message) : base(message)
    {
        Step = step;
        Layer = layer;
        Reason = message;
    }

    /// <summary>Creates the exception from what happened and what to do about it (the message is both).</summary>
    public TrainingDivergedException(long step, string? layer, string reason, string advice) : base(reason + ". " + advice)
    {
        Step = step;
        Layer = layer;
        Reason = reason;
    }

    /// <summary>What happened (step, value, first non-finite layer), without advice: a front end adds its own in terms of its options.</summary>
    public string Reason { get; }

    /// <summary>The optimizer step at which it happened.</summary>
    public long Step { get; }

    /// <summary>The first layer (dotted module name) whose output or parameters were not finite, if found.</summary>
    public string? Layer { get; }
}
