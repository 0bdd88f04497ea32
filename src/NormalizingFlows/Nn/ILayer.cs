using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Nn;

/// <summary>A layer with one input and one output.</summary>
public interface ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Applies the layer to a [batch, features] value.</summary>
    Var<T> Forward(Var<T> x);
}
