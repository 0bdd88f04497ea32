namespace NormalizingFlows.Data;

/// <summary>What <see cref="TableChecks.Degeneracy"/> found: constant columns and the number of distinct rows.</summary>
/// <param name="ConstantColumns">Names of the columns that take a single value, with that value.</param>
/// <param name="DistinctRows">Number of distinct rows (bitwise-equal values count as equal).</param>
/// <param name="Rows">Number of rows.</param>
public sealed record Degeneracy(IReadOnlyList<(string Name, double Value)> ConstantColumns, int DistinctRows, int Rows)
{
    /// <summary>True when every row is the same.</summary>
    public bool AllRowsIdentical => Rows > 0 && DistinctRows == 1;
}
