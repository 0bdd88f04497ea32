using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Transforms.Continuous;

/// <summary>
/// A continuous normalizing flow (FFJORD; the structure trained by flow matching): the map of the ODE
/// dx/dt = v_θ(x, t[, c]) between t = 0 (base) and t = 1 (data), with log|det J| from the instantaneous change of
/// variables d log|det|/dt = tr(∂v/∂x) integrated alongside (exact trace or Hutchinson, see
/// <see cref="ContinuousFlowOptions.Trace"/>). <see cref="Transform{T}.Forward"/> integrates from t = 1 to 0
/// (data → base, the density), <see cref="Transform{T}.Inverse"/> from 0 to 1 (sampling); both cost one ODE solve.
/// Gradients are taken through the solver's steps with the library's autograd (discretise-then-differentiate: exact
/// gradients of the computed map; memory grows with the number of steps). The adaptive solver picks one step size
/// per batch, so a row's result depends on its batch to within the tolerances; with RK4 and the exact trace the map
/// is row-wise (and is split over threads).
/// </summary>
public sealed class ContinuousTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Rng _probes;

    /// <summary>The flow of <paramref name="field"/>, solved as <paramref name="options"/> say (default: Dormand–Prince, tolerances 1e−5, exact trace).</summary>
    public ContinuousTransform(VectorField<T> field, ContinuousFlowOptions? options = null)
        : base((field ?? throw new ArgumentNullException(nameof(field))).Features, field.ContextFeatures)
    {
        Options = options ?? new ContinuousFlowOptions();
        Options.Validate();
        Field = RegisterModule("field", field);
        _probes = new Rng(Options.ProbeSeed);
    }

    /// <summary>The velocity field v_θ.</summary>
    public VectorField<T> Field { get; }

    /// <summary>Solver and trace settings.</summary>
    public ContinuousFlowOptions Options { get; }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null) => Solve(x, context, 1, 0);

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null) => Solve(y, context, 0, 1);

    /// <summary>x(1) from x(0) = <paramref name="y"/> with x alone in the solver's state: no trace (D tangents per row for the exact one), no probe drawn; the adaptive solver then controls its steps by x's error alone.</summary>
    public override Var<T> InverseWithoutLogDet(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        int n = y.Value.Dim(0);
        if (ContextFeatures == 0) context = null;
        return OdeIntegrator.Solve<T>((t, s) => [Field.Evaluate(s[0], Tensor<T>.Full(T.CreateTruncating(t), n), context)], [y], 0, 1, Options)[0];
    }

    /// <inheritdoc/>
    protected override bool TreatsRowsIndependently => Options.Solver == OdeSolver.RungeKutta4 && Options.Trace == TraceEstimator.Exact;

    /// <summary>x(t1) from x(t0) = <paramref name="x"/>, and ∫ tr(∂v/∂x) dt from t0 to t1 (= log|det ∂x(t1)/∂x(t0)|).</summary>
    private (Var<T>, Var<T>) Solve(Var<T> x, Var<T>? context, double t0, double t1)
    {
        CheckShapes(x, context);
        int n = x.Value.Dim(0);
        if (ContextFeatures == 0) context = null;
        Tensor<T>? probe = Options.Trace == TraceEstimator.Hutchinson ? Rademacher(n) : null;
        var end = OdeIntegrator.Solve<T>((t, y) =>
        {
            var (v, divergence) = Field.EvaluateWithDivergence(y[0], Tensor<T>.Full(T.CreateTruncating(t), n), context, probe);
            return [v, divergence];
        }, [x, new Var<T>(Tensor<T>.Zeros(n))], t0, t1, Options);
        return (end[0], end[1]);
    }

    /// <summary>[N, D] of independent ±1 (a fresh probe per solve, from the seeded stream).</summary>
    private Tensor<T> Rademacher(int n)
    {
        var p = Tensor<T>.Empty(n, Features);
        var s = p.Span;
        lock (_probes)
            for (int i = 0; i < s.Length; i++) s[i] = (_probes.NextUInt64() >> 63) == 0 ? T.One : -T.One;
        return p;
    }
}
