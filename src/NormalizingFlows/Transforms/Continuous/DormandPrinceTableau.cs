using System.Collections.ObjectModel;

namespace NormalizingFlows.Transforms.Continuous;

/// <summary>
/// The Butcher tableau of Dormand–Prince 5(4), the adaptive solver of <see cref="OdeSolver.DormandPrince"/>: one
/// copy for every implementation of that solver (the library's, its ONNX export, the GPU's), so that they step alike.
/// </summary>
public static class DormandPrinceTableau
{
    internal static readonly double[] C = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1];
    internal static readonly double[][] A =
    [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
        [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ];
    internal static readonly double[] E = [71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -1.0 / 40];

    /// <summary>The stage nodes c₁…c₇ (the last stage is evaluated at the step's end: first same as last).</summary>
    public static ReadOnlyCollection<double> Nodes { get; } = Array.AsReadOnly(C);

    /// <summary>Row s: the weights a_s1…a_s(s−1) of stage s (the last row is the 5th-order solution's weights b).</summary>
    public static ReadOnlyCollection<ReadOnlyCollection<double>> StageWeights { get; } = Array.AsReadOnly(A.Select(Array.AsReadOnly).ToArray());

    /// <summary>The error weights b − b̂ of the embedded 4th-order estimate.</summary>
    public static ReadOnlyCollection<double> ErrorWeights { get; } = Array.AsReadOnly(E);
}
