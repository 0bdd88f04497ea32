using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Training;

/// <summary>
/// A loss that needs no data (i-flow, Gao et al. 2020; Müller et al. 2019): it fits a flow's density q to a target
/// p ∝ f given by an unnormalised density f ≥ 0 (an integrand, or exp of a log-density). Each round (every
/// <see cref="StepsPerRound"/> steps of a loss-driven <see cref="TrainingLoop{T}"/>) draws x ~ q_old without
/// gradients and stores f(x) and q_old(x); the round's steps then minimise importance-weighted estimators of the
/// divergence on that stored sample, exact for every θ, not only at θ_old, with w̃ = (f/q_old)/mean:
/// KL −mean(w̃ log q); χ² mean(w̃² q_old/q); exponential mean(w̃ (log p − log q)²). With <see cref="Exponent"/>, round
/// r learns f^β(r) (annealing: wider peaks first). A round on which f vanishes everywhere is skipped (no steps).
/// </summary>
public sealed class SampledDivergenceLoss<T> : TrainingLoss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Func<Var<T>, Var<T>> _logDensity;
    private readonly Func<(Tensor<T> X, Tensor<T> LogDensity)> _sample;
    private readonly Func<Tensor<T>, double[]> _target;
    private Tensor<T>? _x, _weight, _aux;
    private double[]? _lastWeights;
    private bool _skip;

    /// <summary>
    /// Creates the loss: <paramref name="logDensity"/> is log q_θ(x) recorded for gradients; <paramref name="sample"/>
    /// draws a round's points from q without gradients with their log q; <paramref name="target"/> gives f at points.
    /// </summary>
    public SampledDivergenceLoss(Func<Var<T>, Var<T>> logDensity, Func<(Tensor<T> X, Tensor<T> LogDensity)> sample, Func<Tensor<T>, double[]> target,
        Divergence divergence = Divergence.Variance, int stepsPerRound = 1)
    {
        _logDensity = logDensity ?? throw new ArgumentNullException(nameof(logDensity));
        _sample = sample ?? throw new ArgumentNullException(nameof(sample));
        _target = target ?? throw new ArgumentNullException(nameof(target));
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerRound, 1);
        if (!Enum.IsDefined(divergence)) throw new ArgumentOutOfRangeException(nameof(divergence), divergence, "not a divergence");
        Divergence = divergence;
        StepsPerRound = stepsPerRound;
    }

    /// <summary>The divergence minimised.</summary>
    public Divergence Divergence { get; }

    /// <summary>Gradient steps on each stored sample.</summary>
    public int StepsPerRound { get; }

    /// <summary>β of round r ∈ (0, 1]: the round learns f^β (null: β = 1 throughout).</summary>
    public Func<int, double>? Exponent { get; init; }

    /// <summary>Called once per round, after its first step's loss (or when it is skipped), with the sample's weights.</summary>
    public Action<SampledRound>? RoundDone { get; init; }

    /// <inheritdoc/>
    public override Var<T>? Compute(TrainingBatch<T> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        bool first = batch.Step % StepsPerRound == 0;
        int round = (int)(batch.Step / StepsPerRound);
        if (first) Draw(round);
        if (_skip) return null;
        var logq = _logDensity(new Var<T>(_x!));
        var weight = new Var<T>(_weight!);
        var loss = Divergence switch
        {
            // ∫ p²/q estimated on x ~ q_old: mean((f/q_old)² q_old/q) / mean(f/q_old)²
            Divergence.Variance => Ops.Mean(Ops.Mul(weight, Ops.Exp(Ops.Sub(new Var<T>(_aux!), logq)))),
            // ∫ p (log p − log q)²: mean(w̃ (log p − log q)²)
            Divergence.Exponential => Ops.Mean(Ops.Mul(weight, Ops.Square(Ops.Sub(new Var<T>(_aux!), logq)))),
            // −∫ p log q (+ const): −mean(w̃ log q)
            _ => Ops.Neg(Ops.Mean(Ops.Mul(weight, logq))),
        };
        if (first) RoundDone?.Invoke(new SampledRound(round, _lastWeights!, double.CreateTruncating(loss.Value[0])));
        return loss;
    }

    /// <summary>Draws round <paramref name="round"/>'s sample and its weights (kept beyond the step's tensor scope).</summary>
    private void Draw(int round)
    {
        _x?.Dispose(); _weight?.Dispose(); _aux?.Dispose();
        var (x, logqOld) = _sample();
        _x = x.Untrack();
        var f = _target(x);
        if (f.Length != x.Dim(0)) throw new InvalidOperationException($"the target gave {f.Length} values for {x.Dim(0)} points");
        var (w, coefficient, aux) = RoundCoefficients(Divergence, f, logqOld.ReadOnlySpan, Exponent?.Invoke(round) ?? 1, round);
        _lastWeights = w;
        _skip = coefficient is null;
        if (_skip)
        {
            _weight = _aux = null;
            RoundDone?.Invoke(new SampledRound(round, w, double.NaN));
            return; // f vanished on the whole sample: nothing to learn from
        }
        _weight = coefficient!.Untrack();
        _aux = aux!.Untrack();
    }

    /// <summary>
    /// A round's importance weights w = f/q_old (of f itself) and the per-row coefficient c and aux a of its loss, as
    /// the steps use them: with w̃ = (f^β/q_old)/mean(f^β/q_old) and log q the current flow's, the loss is
    /// (1/N) Σ c·exp(a − log q) with c = w̃², a = log q_old (χ²); (1/N) Σ c·(a − log q)² with c = w̃, a = β log f − log mean
    /// (exponential); −(1/N) Σ c·log q with c = w̃ (KL; a unused, 0). Coefficient and aux are null when f vanishes on the
    /// whole sample (the round is skipped; β is then not checked). <paramref name="round"/> only names the round in
    /// the error for a β outside (0, 1]. For a device that takes the steps on the same sample
    /// (<see cref="IAcceleratedFlow.SetDivergenceRound"/>).
    /// </summary>
    public static (double[] Weights, Tensor<T>? Coefficient, Tensor<T>? Aux) RoundCoefficients(Divergence divergence, ReadOnlySpan<double> f, ReadOnlySpan<T> logqOld,
        double beta = 1, int round = 0)
    {
        int n = f.Length;
        if (logqOld.Length != n) throw new ArgumentException($"{n} target values for {logqOld.Length} log-densities");
        var lq = logqOld;
        var w = new double[n];
        for (int i = 0; i < n; i++) w[i] = f[i] == 0 ? 0 : f[i] / Math.Exp(double.CreateTruncating(lq[i]));
        double sum = 0;
        foreach (double a in w) sum += a;
        double mean = sum / n;
        if (!(mean > 0)) return (w, null, null);
        var (coefficient, aux) = Coefficients(divergence, f, lq, w, mean, beta, round);
        return (w, coefficient, aux);
    }

    private static (Tensor<T> Coefficient, Tensor<T> Aux) Coefficients(Divergence divergence, ReadOnlySpan<double> f, ReadOnlySpan<T> lq, double[] w, double mean, double beta, int round)
    {
        int n = f.Length;
        // the target learnt this round is p ∝ f^β: its weights f^β/q and their mean
        if (!(beta > 0 && beta <= 1)) throw new InvalidOperationException($"the exponent β of round {round} is {beta}; it must lie in (0, 1]");
        var wt = w;
        double meanT = mean;
        if (beta < 1)
        {
            wt = new double[n];
            for (int i = 0; i < n; i++) wt[i] = f[i] == 0 ? 0 : Math.Exp(beta * Math.Log(f[i])) / Math.Exp(double.CreateTruncating(lq[i]));
            meanT = wt.Average();
        }
        var weight = Tensor<T>.Empty(n);
        var aux = Tensor<T>.Zeros(n);
        var wns = weight.Span; var auxs = aux.Span;
        for (int i = 0; i < n; i++)
        {
            double r = wt[i] / meanT;
            switch (divergence)
            {
                case Divergence.Variance: wns[i] = T.CreateTruncating(r * r); auxs[i] = lq[i]; break;
                case Divergence.Exponential: wns[i] = T.CreateTruncating(r); auxs[i] = f[i] > 0 ? T.CreateTruncating(beta * Math.Log(f[i]) - Math.Log(meanT)) : T.Zero; break;
                default: wns[i] = T.CreateTruncating(r); break;
            }
        }
        return (weight, aux);
    }
}
