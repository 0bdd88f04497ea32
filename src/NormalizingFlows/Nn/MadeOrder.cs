namespace NormalizingFlows.Nn;

/// <summary>How MADE orders its input features.</summary>
public enum MadeOrder
{
    /// <summary>Feature j has position j (feature 0 comes first).</summary>
    Natural,
    /// <summary>Feature j has position D − 1 − j.</summary>
    Reversed,
    /// <summary>A seeded random permutation.</summary>
    Random,
}
