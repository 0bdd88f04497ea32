namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// A Lorentz four-vector (E, px, py, pz) in GeV with metric (+, −, −, −). The z axis is the e⁻ beam direction.
/// </summary>
public readonly struct FourVector(double e, double px, double py, double pz) : IEquatable<FourVector>
{
    /// <summary>Energy component.</summary>
    public double E { get; } = e;

    /// <summary>x component of the momentum.</summary>
    public double Px { get; } = px;

    /// <summary>y component of the momentum.</summary>
    public double Py { get; } = py;

    /// <summary>z component of the momentum (along the e⁻ beam).</summary>
    public double Pz { get; } = pz;

    /// <summary>The invariant mass squared E² − |p|² (may be slightly negative from rounding).</summary>
    public double M2 => E * E - (Px * Px + Py * Py + Pz * Pz);

    /// <summary>The invariant mass √max(M², 0).</summary>
    public double M => Math.Sqrt(Math.Max(M2, 0.0));

    /// <summary>|p|, the length of the three-momentum.</summary>
    public double P => Math.Sqrt(Px * Px + Py * Py + Pz * Pz);

    /// <summary>Transverse momentum √(px² + py²).</summary>
    public double Pt => Math.Sqrt(Px * Px + Py * Py);

    /// <summary>cos θ of the three-momentum with the +z axis (1 for a zero vector).</summary>
    public double CosTheta { get { double p = P; return p > 0 ? Pz / p : 1.0; } }

    /// <summary>Azimuth φ ∈ (−π, π] of the three-momentum.</summary>
    public double Phi => Math.Atan2(Py, Px);

    /// <summary>Minkowski product a·b = a⁰b⁰ − a⃗·b⃗.</summary>
    public static double Dot(FourVector a, FourVector b) => a.E * b.E - a.Px * b.Px - a.Py * b.Py - a.Pz * b.Pz;

    /// <summary>Component-wise sum.</summary>
    public static FourVector operator +(FourVector a, FourVector b) => new(a.E + b.E, a.Px + b.Px, a.Py + b.Py, a.Pz + b.Pz);

    /// <summary>Component-wise difference.</summary>
    public static FourVector operator -(FourVector a, FourVector b) => new(a.E - b.E, a.Px - b.Px, a.Py - b.Py, a.Pz - b.Pz);

    /// <summary>Scaling by a number.</summary>
    public static FourVector operator *(double c, FourVector a) => new(c * a.E, c * a.Px, c * a.Py, c * a.Pz);

    /// <summary>Space reflection of the three-momentum: (E, −p⃗).</summary>
    public FourVector Reflected => new(E, -Px, -Py, -Pz);

    /// <summary>A massless or massive vector from energy, |p| and the direction (cos θ, φ) of p⃗.</summary>
    public static FourVector FromPolar(double energy, double momentum, double cosTheta, double phi)
    {
        double sinTheta = Math.Sqrt(Math.Max(0.0, (1.0 - cosTheta) * (1.0 + cosTheta)));
        return new FourVector(energy, momentum * sinTheta * Math.Cos(phi), momentum * sinTheta * Math.Sin(phi), momentum * cosTheta);
    }

    /// <summary>
    /// This vector, given in the rest frame of <paramref name="frame"/>, boosted to the frame where
    /// <paramref name="frame"/> has its stated momentum (frame must be time-like).
    /// </summary>
    public FourVector BoostedFromRestFrameOf(FourVector frame)
    {
        double m = frame.M;
        if (!(m > 0)) throw new ArgumentException("boost frame must be time-like (M² > 0)", nameof(frame));
        double bx = frame.Px / m, by = frame.Py / m, bz = frame.Pz / m; // γβ⃗
        double gamma = frame.E / m;
        double bp = bx * Px + by * Py + bz * Pz;                       // γβ⃗·p⃗
        double c = bp / (gamma + 1.0) + E;
        return new FourVector(gamma * E + bp, Px + c * bx, Py + c * by, Pz + c * bz);
    }

    /// <summary>
    /// This vector, given in a frame whose z axis points along the unit vector (cos θ, φ), rotated to the lab axes:
    /// the rotation R_z(φ) R_y(θ) that takes ẑ to that direction.
    /// </summary>
    public FourVector RotatedToDirection(double cosTheta, double phi)
    {
        double sinTheta = Math.Sqrt(Math.Max(0.0, (1.0 - cosTheta) * (1.0 + cosTheta)));
        double cp = Math.Cos(phi), sp = Math.Sin(phi);
        // R_y(θ): x' = x cosθ + z sinθ, z' = −x sinθ + z cosθ; then R_z(φ).
        double x1 = Px * cosTheta + Pz * sinTheta, z1 = -Px * sinTheta + Pz * cosTheta;
        return new FourVector(E, x1 * cp - Py * sp, x1 * sp + Py * cp, z1);
    }

    /// <summary>The inverse of <see cref="RotatedToDirection"/>: this lab vector in the frame whose z axis points along (cos θ, φ).</summary>
    public FourVector RotatedFromDirection(double cosTheta, double phi)
    {
        double sinTheta = Math.Sqrt(Math.Max(0.0, (1.0 - cosTheta) * (1.0 + cosTheta)));
        double cp = Math.Cos(phi), sp = Math.Sin(phi);
        double x1 = Px * cp + Py * sp, y1 = -Px * sp + Py * cp;
        return new FourVector(E, x1 * cosTheta - Pz * sinTheta, y1, x1 * sinTheta + Pz * cosTheta);
    }

    /// <inheritdoc/>
    public bool Equals(FourVector other) => E == other.E && Px == other.Px && Py == other.Py && Pz == other.Pz;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is FourVector v && Equals(v);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(E, Px, Py, Pz);

    /// <summary>Exact component equality.</summary>
    public static bool operator ==(FourVector a, FourVector b) => a.Equals(b);

    /// <summary>Exact component inequality.</summary>
    public static bool operator !=(FourVector a, FourVector b) => !a.Equals(b);

    /// <inheritdoc/>
    public override string ToString() => FormattableString.Invariant($"({E:G6}, {Px:G6}, {Py:G6}, {Pz:G6})");
}
