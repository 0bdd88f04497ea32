namespace NormalizingFlows.Hep.Integration;

/// <summary>One integrator run at a fixed budget: the result, the reference value and the time taken.</summary>
public sealed record IntegrationRun(string Method, int Dimensions, IntegrationResult Result, double? Reference, long TrainingCalls, double Seconds)
{
    /// <summary>|Estimate − Reference| / Reference (NaN without a reference).</summary>
    public double ActualRelativeDeviation => Reference is { } r ? Math.Abs(Result.Estimate - r) / Math.Abs(r) : double.NaN;
}
