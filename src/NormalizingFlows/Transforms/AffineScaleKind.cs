namespace NormalizingFlows.Transforms;

/// <summary>How an affine update turns a conditioner's raw scale output into a positive scale s.</summary>
public enum AffineScaleKind
{
    /// <summary>log s = c·tanh(raw / c): exp of a soft-clamped log-scale (|log s| &lt; c; c = ∞ gives plain exp). raw = 0 gives s = 1.</summary>
    SoftClampedExp,
    /// <summary>s = sigmoid(raw + 2) + 1e−3, nflows' default (s ∈ (1e−3, 1.001); raw = 0 gives s ≈ 0.882).</summary>
    Sigmoid,
    /// <summary>s = softplus(raw + c₀) + 1e−3 with c₀ chosen so raw = 0 gives s = 1 (zuko's monotonic affine, unbounded above).</summary>
    Softplus,
    /// <summary>log s = raw / (1 + |raw| / c): a rational soft clamp (|log s| &lt; c) whose gradient decays only as
    /// 1/(1 + |raw|/c)², so large scales stay learnable (zuko's monotonic affine with slope e^−c). raw = 0 gives s = 1.</summary>
    RationalClampedExp,
}
