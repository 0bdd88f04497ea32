namespace NormalizingFlows.Cuda;

/// <summary>C[M, N] = alpha·op(A)·op(B) + beta·C, row-major; op(A) is [M, K] (A stored [K, M] when transposed).</summary>
internal readonly record struct GemmArgs(int M, int N, int K, int TransA, int TransB, float Alpha, float Beta);

/// <summary>An affine update's scale map (<see cref="Transforms.AffineScaleKind"/> as an int), its clamp, and the direction.</summary>
internal readonly record struct AffineArgs(int Kind, float Bound, int Inverse, int Cols);

/// <summary>
/// A rational-quadratic spline family mapping [Left, Right] onto itself: bins, minimum bin width/height shares,
/// minimum derivative, the direction, the element count per row (for the per-row log-det gradient), and the tails:
/// Boundary 0 is identity tails (boundary derivatives 1, 3K − 1 parameters per element), 1 learnable boundary
/// derivatives with linear tails of those slopes (3K + 1 parameters, the unit-interval splines of i-flow), 2 circular
/// splines on [−Circle, Circle) (CircularRationalQuadraticSpline, 3K + 1: K derivatives and the shift) on the columns
/// whose bit is set in CircularColumns (column c &lt; 64: bit c; −1: every column), the identity-tailed spline on [Left, Right] reading the first
/// 3K − 1 of the element's 3K + 1 parameters on the others (MaskedUpdate).
/// </summary>
internal readonly record struct SplineArgs(int Bins, float Left, float Right, float MinWidth, float MinHeight, float MinDerivative, int Inverse, int Cols, int Boundary = 0,
    double Circle = 0, long CircularColumns = 0)
{
    /// <summary>Unnormalised parameters per element: 3K − 1 with identity tails, 3K + 1 with learnable boundary derivatives.</summary>
    public int ParametersPerElement => Boundary != 0 ? 3 * Bins + 1 : 3 * Bins - 1;
}

/// <summary>
/// A piecewise-linear spline family on [0, 1] (Transforms/Splines/PiecewiseLinearSpline): K equal-width bins with
/// masses MinMass + (1 − K·MinMass)·softmax(parameters), linear tails with the boundary bins' slopes; the direction
/// and the element count per row.
/// </summary>
internal readonly record struct LinearSplineArgs(int Bins, float MinMass, int Inverse, int Cols);

/// <summary>
/// A piecewise-quadratic spline family on [0, 1] (Transforms/Splines/PiecewiseQuadraticSpline): K bins of widths
/// MinWidth + (1 − K·MinWidth)·softmax, K + 1 vertex densities MinDensity + (1 − MinDensity)·E/A (E = exp of the
/// parameters, A the area under the piecewise-linear E), linear tails with the boundary densities; the direction
/// and the element count per row.
/// </summary>
internal readonly record struct QuadraticSplineArgs(int Bins, float MinWidth, float MinDensity, int Inverse, int Cols);

/// <summary>
/// One Adam step's scalars, as Optim/Adam computes them: β1, β2, lr/bc1, 1/√bc2, ε, the L2 coefficient added to the
/// gradient (Adam's weight decay; 0 for AdamW) and the factor the weights are multiplied by first (1 − lr·wd for AdamW, else 1).
/// The kernels read them from a device buffer of <see cref="Count"/> floats at the indices below (written by
/// DeviceKernels.AdamScalars before each step), so a training step's launches are the same from step to step.
/// </summary>
internal readonly record struct AdamArgs(float Beta1, float Beta2, float StepSize, float InvSqrtBc2, float Eps, float L2 = 0, float Decay = 1)
{
    /// <summary>The scalars' indices in the device buffer (MaxNormAt: the global-norm clip, +∞ for none).</summary>
    public const int Beta1At = 0, Beta2At = 1, StepSizeAt = 2, InvSqrtBc2At = 3, EpsAt = 4, L2At = 5, DecayAt = 6, MaxNormAt = 7;

    /// <summary>The buffer's length: the seven scalars and the global-norm clip.</summary>
    public const int Count = 8;
}

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

/// <summary>
/// The periodic features of a PeriodicNormal base: column c &lt; 64 periodic when bit c of Columns is set (uniform on
/// [−Circle, Circle), log-density LogConstant = −(count)·log 2·Circle together), the others standard normal.
/// </summary>
internal readonly record struct PeriodicArgs(long Columns, double Circle, float LogConstant, int Cols);
