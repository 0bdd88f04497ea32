namespace NormalizingFlows.Nn;

/// <summary>Activation functions selectable by the network builders.</summary>
public enum Activation
{
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>x for x &gt; 0, exp(x) − 1 otherwise.</summary>
    Elu,
    /// <summary>tanh(x).</summary>
    Tanh,
    /// <summary>x·sigmoid(x) (swish).</summary>
    Silu,
    /// <summary>x for x &gt; 0, 0.01·x otherwise.</summary>
    LeakyRelu,
    /// <summary>1 / (1 + exp(−x)).</summary>
    Sigmoid,
    /// <summary>ln(1 + exp(x)).</summary>
    Softplus,
    /// <summary>x (no activation).</summary>
    Identity,
}
