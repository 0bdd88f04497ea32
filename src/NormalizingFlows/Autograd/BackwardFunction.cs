using System.Numerics;

namespace NormalizingFlows.Autograd;

/// <summary>Pushes an output's gradient into its inputs' gradients (accumulating).</summary>
public delegate void BackwardFunction<T>(Var<T> output) where T : unmanaged, IFloatingPointIeee754<T>;
