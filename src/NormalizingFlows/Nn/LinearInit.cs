namespace NormalizingFlows.Nn;

/// <summary>How a linear layer's weight and bias start.</summary>
public enum LinearInit
{
    /// <summary>PyTorch's nn.Linear default: Kaiming uniform (a = √5), bias U(−1/√in, 1/√in).</summary>
    Default,
    /// <summary>Xavier/Glorot uniform weight, zero bias.</summary>
    XavierUniform,
    /// <summary>Kaiming (He) normal weight for ReLU, zero bias.</summary>
    KaimingNormal,
    /// <summary>Zero weight and bias (output layers of flow conditioners: a fresh flow is the identity).</summary>
    Zeros,
    /// <summary>Weight and bias U(−1e−3, 1e−3) (nflows' near-zero residual init).</summary>
    NearZero,
    /// <summary>He/Kaiming uniform weight for ReLU (gain √2, keeps the activations' scale), bias U(−1/√in, 1/√in) as <see cref="Default"/>.</summary>
    KaimingUniform,
}
