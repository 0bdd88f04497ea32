using System.Numerics;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    /// <summary>
    /// A 5-column training table for the fitted-pipeline cases: a uniform column on [−0.2, 1.2] (minmax-logit), a
    /// log-normal column (log), a Gaussian (standardize), a count column (dequantize) and a raw column (none). The
    /// matrix's unit-interval inputs (0.02…0.98) lie inside every fitted domain.
    /// </summary>
    internal static Table PreprocessingTable(Rng r, int rows = 400)
    {
        var v = new double[rows * 5];
        for (int i = 0; i < rows; i++)
        {
            v[i * 5 + 0] = -0.2 + 1.4 * r.NextDouble();
            v[i * 5 + 1] = Math.Exp(0.5 * r.NextNormal());
            v[i * 5 + 2] = 3 + 2 * r.NextNormal();
            v[i * 5 + 3] = Math.Floor(6 * r.NextDouble());
            v[i * 5 + 4] = r.NextNormal();
        }
        return new Table(["u", "m", "g", "n", "raw"], v, rows);
    }

    internal static readonly PreprocessingSpec MixedSpec = new(
    [
        new ColumnPreprocessing("u", PreprocessingKind.MinMaxLogit),
        new ColumnPreprocessing("m", PreprocessingKind.Log),
        new ColumnPreprocessing("g", PreprocessingKind.Standardize),
        new ColumnPreprocessing("n", PreprocessingKind.Dequantize),
        new ColumnPreprocessing("raw", PreprocessingKind.None),
    ]);

    private static Transform<T> FittedPipeline<T>(Rng r) where T : unmanaged, IFloatingPointIeee754<T>
        => PreprocessingPipeline.Fit<T>(PreprocessingTable(r), MixedSpec);

    /// <summary>The preprocessing transforms (Data/Preprocessing): each alone and the fitted pipeline.</summary>
    public static readonly TransformCase[] Preprocessing =
    [
        new("minmax_scaler", _ => new MinMaxScaler<double>([-1.0, 0.0, 10.0], [2.0, 0.5, 30.0], 0.05),
            _ => new MinMaxScaler<float>([-1.0, 0.0, 10.0], [2.0, 0.5, 30.0], 0.05), 3),
        new("log_transform", _ => new LogTransform<double>([0.0, -1.0, -0.5]),
            _ => new LogTransform<float>([0.0, -1.0, -0.5]), 3, Domain: InputDomain.UnitInterval),
        new("domain_guard", _ => new DomainGuard<double>([-1.0, double.NegativeInfinity, 0.0], [2.0, 1.5, double.PositiveInfinity], [0.5, 0.0, 1.0]),
            _ => new DomainGuard<float>([-1.0, double.NegativeInfinity, 0.0], [2.0, 1.5, double.PositiveInfinity], [0.5, 0.0, 1.0]), 3,
            Domain: InputDomain.UnitInterval),
        new("columnwise_logit", _ => new ColumnwiseTransform<double>(4, [2, 0], new Logit<double>(2)),
            _ => new ColumnwiseTransform<float>(4, [2, 0], new Logit<float>(2)), 4, Domain: InputDomain.UnitInterval),
        new("columnwise_all_permuted", _ => new ColumnwiseTransform<double>(3, [2, 0, 1], new LogTransform<double>([-1.0, -2.0, 0.0])),
            _ => new ColumnwiseTransform<float>(3, [2, 0, 1], new LogTransform<float>([-1.0, -2.0, 0.0])), 3, Domain: InputDomain.UnitInterval),
        new("preprocessing_pipeline", FittedPipeline<double>, FittedPipeline<float>, 5, Domain: InputDomain.UnitInterval),
    ];
}
