namespace NormalizingFlows.Transforms;

/// <summary>
/// The scale parameterisation of an affine update y = x·s + t (affine couplings, MAF). Use
/// <see cref="SoftClampedExp"/> (zuko/Glow style, starts at the identity) or <see cref="Sigmoid"/> (nflows).
/// </summary>
public readonly partial record struct AffineScale
{
    private AffineScale(AffineScaleKind kind, double bound)
    {
        Kind = kind;
        Bound = bound;
    }

    /// <summary>The parameterisation.</summary>
    public AffineScaleKind Kind { get; }

    /// <summary>The clamp c of <see cref="AffineScaleKind.SoftClampedExp"/> (|log s| &lt; c); unused by the sigmoid.</summary>
    public double Bound { get; }

    /// <summary>log s = c·tanh(raw / c) with c = <paramref name="bound"/> (positive; +∞ for an unclamped exp).</summary>
    public static AffineScale SoftClampedExp(double bound = 3.0)
    {
        if (!(bound > 0)) throw new ArgumentOutOfRangeException(nameof(bound), bound, "the log-scale clamp must be positive (or +∞ for none)");
        return new(AffineScaleKind.SoftClampedExp, bound);
    }

    /// <summary>log s = raw / (1 + |raw| / c) with c = <paramref name="bound"/> (positive, finite): zuko's parameterisation.</summary>
    public static AffineScale RationalClampedExp(double bound = 6.907755278982137)
    {
        if (!(bound > 0) || !double.IsFinite(bound)) throw new ArgumentOutOfRangeException(nameof(bound), bound, "the log-scale clamp must be positive and finite");
        return new(AffineScaleKind.RationalClampedExp, bound);
    }

    /// <summary>s = sigmoid(raw + 2) + 1e−3 (nflows' affine coupling and MAF).</summary>
    public static AffineScale Sigmoid => new(AffineScaleKind.Sigmoid, 0);

    /// <summary>s = softplus(raw + c₀) + 1e−3, c₀ = softplus⁻¹(1 − 1e−3) (zuko's parameterisation, starting at the identity).</summary>
    public static AffineScale Softplus => new(AffineScaleKind.Softplus, 0);

    /// <summary>The offset c₀ = log(expm1(1 − 1e−3)) of <see cref="Softplus"/>.</summary>
    internal static readonly double SoftplusOffset = Math.Log(double.ExpM1(1 - 1e-3));

    /// <summary>The default: soft-clamped exp with c = 3.</summary>
    public static AffineScale Default => SoftClampedExp();

    /// <summary>log s and d(log s)/d raw for one raw value.</summary>
    internal (double LogScale, double Derivative) Evaluate(double raw)
    {
        if (Kind == AffineScaleKind.Sigmoid)
        {
            double v = raw + 2;
            double sig = v >= 0 ? 1 / (1 + Math.Exp(-v)) : Math.Exp(v) / (1 + Math.Exp(v));
            double s = sig + 1e-3;
            return (Math.Log(s), sig * (1 - sig) / s);
        }
        if (Kind == AffineScaleKind.Softplus)
        {
            double v = raw + SoftplusOffset;
            double sp = Math.Max(v, 0) + Math.Log(1 + Math.Exp(-Math.Abs(v)));
            double sig = v >= 0 ? 1 / (1 + Math.Exp(-v)) : Math.Exp(v) / (1 + Math.Exp(v));
            double s = sp + 1e-3;
            return (Math.Log(s), sig / s);
        }
        if (Kind == AffineScaleKind.RationalClampedExp)
        {
            double q = 1 / (1 + Math.Abs(raw) / Bound);
            return (raw * q, q * q);
        }
        if (double.IsPositiveInfinity(Bound)) return (raw, 1);
        double th = Math.Tanh(raw / Bound);
        return (Bound * th, 1 - th * th);
    }

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        AffineScaleKind.Sigmoid => "sigmoid(raw + 2) + 1e-3",
        AffineScaleKind.Softplus => "softplus(raw + c0) + 1e-3",
        AffineScaleKind.RationalClampedExp => $"exp(raw/(1 + |raw|/{Bound}))",
        _ => $"exp({Bound}·tanh(raw/{Bound}))",
    };
}
