using System.Numerics;

namespace NormalizingFlows.Transforms;

/// <summary>
/// Per-element kernel of a fixed elementwise bijection: fills y[i] = f(x[i]) and logDeriv[i] = log|f′(x[i])|, and,
/// when <paramref name="dy"/> is non-empty, dy[i] = f′(x[i]) and dLogDeriv[i] = d log|f′|/dx at x[i].
/// </summary>
public delegate void ElementwiseKernel<T>(ReadOnlySpan<T> x, Span<T> y, Span<T> logDeriv, Span<T> dy, Span<T> dLogDeriv)
    where T : unmanaged, IFloatingPointIeee754<T>;
