namespace NormalizingFlows.Hep.Evaluation;

/// <summary>A distance between two samples and its error (see <see cref="PhysicsDistance"/>).</summary>
/// <param name="Value">The estimate: FPD's value extrapolated to infinite batches, or KPD's median over batches.</param>
/// <param name="Error">Its error: the fitted intercept's standard error (FPD), or half the 16–84 % range over batches (KPD).</param>
public readonly record struct DistanceEstimate(double Value, double Error)
{
    /// <summary>"0.0123 ± 0.0004" in the given number format.</summary>
    public string Describe(string format = "G3") => FormattableString.Invariant($"{Value.ToString(format, System.Globalization.CultureInfo.InvariantCulture)} ± {Error.ToString(format, System.Globalization.CultureInfo.InvariantCulture)}");
}
