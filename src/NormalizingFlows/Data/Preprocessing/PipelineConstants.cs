namespace NormalizingFlows.Data.Preprocessing;

/// <summary>The fitted numbers of a pipeline, per column, in double.</summary>
internal sealed class PipelineConstants
{
    public required double[] Min, Max, Shift, Mean, Std;

    public static PipelineConstants Placeholder(int d) => new()
    {
        Min = new double[d], Max = Enumerable.Repeat(1.0, d).ToArray(), Shift = new double[d],
        Mean = new double[d], Std = Enumerable.Repeat(1.0, d).ToArray(),
    };
}
