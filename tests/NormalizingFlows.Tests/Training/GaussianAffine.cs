using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Training;

/// <summary>z = (x − shift)·exp(−logScale) per feature: with a standard-normal base, the MLE is the sample mean and std.</summary>
internal sealed class GaussianAffine : Transform<double>
{
    public GaussianAffine(int d) : base(d)
    {
        Shift = RegisterParameter("shift", new Parameter<double>(Tensor<double>.Zeros(d)));
        LogScale = RegisterParameter("log_scale", new Parameter<double>(Tensor<double>.Zeros(d)));
    }

    public Parameter<double> Shift { get; }
    public Parameter<double> LogScale { get; }

    public override (Var<double> Y, Var<double> LogAbsDet) Forward(Var<double> x, Var<double>? context = null)
    {
        CheckShapes(x, context);
        var y = Ops.Mul(Ops.Sub(x, Shift), Ops.Exp(Ops.Neg(LogScale)));
        var ld = Ops.Sum(Ops.Neg(LogScale)); // same for every row
        return (y, Ops.Mul(new Var<double>(Tensor<double>.Full(1.0, x.Value.Dim(0))), ld));
    }

    public override (Var<double> X, Var<double> LogAbsDet) Inverse(Var<double> y, Var<double>? context = null)
    {
        CheckShapes(y, context);
        var x = Ops.Add(Ops.Mul(y, Ops.Exp(LogScale)), Shift);
        return (x, Ops.Mul(new Var<double>(Tensor<double>.Full(1.0, y.Value.Dim(0))), Ops.Sum(LogScale)));
    }

    /// <summary>A flow of this transform over a standard normal in <paramref name="d"/> dimensions.</summary>
    public static Flow<double> MakeFlow(int d) => new(new GaussianAffine(d), new StandardNormal<double>(d));

    /// <summary><paramref name="n"/> draws of N(mean, std²) as [n, 1].</summary>
    public static Tensor<double> GaussianData(int n, double mean, double std, int seed)
    {
        var t = Tensor<double>.Empty(n, 1);
        new Rng(seed).Normal<double>(t.Span, mean, std);
        return t;
    }
}
