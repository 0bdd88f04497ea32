namespace NormalizingFlows.Cuda;

/// <summary>C[M, N] = alpha·op(A)·op(B) + beta·C, row-major; op(A) is [M, K] (A stored [K, M] when transposed).</summary>
internal readonly record struct GemmArgs(int M, int N, int K, int TransA, int TransB, float Alpha, float Beta);

/// <summary>An affine update's scale map (<see cref="Transforms.AffineScaleKind"/> as an int), its clamp, and the direction.</summary>
internal readonly record struct AffineArgs(int Kind, float Bound, int Inverse, int Cols);

/// <summary>
/// A rational-quadratic spline family with identity tails on [Left, Right]: bins, minimum bin width/height shares,
/// minimum derivative, the direction, and the element count per row (for the per-row log-det gradient).
/// </summary>
internal readonly record struct SplineArgs(int Bins, float Left, float Right, float MinWidth, float MinHeight, float MinDerivative, int Inverse, int Cols);

/// <summary>
/// One Adam step's scalars, as Optim/Adam computes them: β1, β2, lr/bc1, 1/√bc2, ε, the L2 coefficient added to the
/// gradient (Adam's weight decay; 0 for AdamW) and the factor the weights are multiplied by first (1 − lr·wd for AdamW, else 1).
/// </summary>
internal readonly record struct AdamArgs(float Beta1, float Beta2, float StepSize, float InvSqrtBc2, float Eps, float L2 = 0, float Decay = 1);

/// <summary>
/// Which rows of a seeded stream of standard-normal rows [·, Cols] a block of draws holds: block row r is stream row
/// ⌊q/PerRow⌋·Stride + Offset + q mod PerRow with q = First + r, i.e. rows Offset … Offset + PerRow − 1 of each run of
/// Stride rows (a shard's share of n samples per context row); PerRow = Stride (and Offset 0) makes it row q itself.
/// </summary>
internal readonly record struct NoiseArgs(long Seed, long First, long PerRow, long Stride, long Offset, int Cols)
{
    /// <summary>Rows <paramref name="first"/>, <paramref name="first"/> + 1, … of the stream of <paramref name="seed"/>.</summary>
    public static NoiseArgs Rows(long seed, long first, int cols) => new(seed, first, long.MaxValue, 0, 0, cols);
}
