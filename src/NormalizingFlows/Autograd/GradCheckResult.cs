namespace NormalizingFlows.Autograd;

/// <summary>Outcome of a gradient check: the worst element found.</summary>
/// <param name="MaxError">Largest |analytic − numeric| / (atol + rtol·|numeric|); ≤ 1 passes.</param>
/// <param name="Leaf">Index of the leaf with the worst element.</param>
/// <param name="Index">Flat index of the worst element in that leaf.</param>
/// <param name="Analytic">Back-propagated derivative there.</param>
/// <param name="Numeric">Central-difference derivative there.</param>
public readonly record struct GradCheckResult(double MaxError, int Leaf, int Index, double Analytic, double Numeric)
{
    /// <summary>True when every element is within tolerance.</summary>
    public bool Passed => MaxError <= 1.0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"max scaled error {MaxError:G4} at leaf {Leaf}, element {Index}: analytic {Analytic:G10}, numeric {Numeric:G10}";
}
