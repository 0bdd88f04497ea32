namespace NormalizingFlows.Transforms.Splines;

/// <summary>
/// Where a monotone spline lives: it maps [Left, Right] onto [Bottom, Top] and extends linearly outside, with the
/// spline's derivative at the boundary (so it is defined, continuous and invertible on the whole real line).
/// With <see cref="IdentityTails"/> the boundary derivatives are fixed to 1 and the two intervals coincide, which
/// makes the transform the identity outside [−B, B] (the neural-spline-flow convention).
/// </summary>
public readonly record struct SplineDomain(double Left, double Right, double Bottom, double Top, bool IdentityTails)
{
    /// <summary>[−bound, bound] onto itself with identity tails (Durkan et al.).</summary>
    public static SplineDomain Symmetric(double bound) => new(-bound, bound, -bound, bound, true);

    /// <summary>[0, 1] onto [0, 1] with learnable boundary derivatives (unit-hypercube flows, i-flow).</summary>
    public static SplineDomain UnitInterval => new(0, 1, 0, 1, false);

    /// <summary>Throws if the intervals are empty or identity tails are asked for with different intervals.</summary>
    public void Validate()
    {
        if (!(Right > Left) || !(Top > Bottom) || !double.IsFinite(Left) || !double.IsFinite(Right) || !double.IsFinite(Bottom) || !double.IsFinite(Top))
            throw new ArgumentException($"spline domain [{Left}, {Right}] → [{Bottom}, {Top}] is empty or not finite");
        if (IdentityTails && (Left != Bottom || Right != Top))
            throw new ArgumentException("identity tails need the input and output intervals to coincide");
    }
}
