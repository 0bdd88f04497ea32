using System.Numerics;
using System.Runtime.InteropServices;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Integration;

// The mixture loss of MultichannelOptions.MixtureLoss.
public sealed partial class MultichannelFlowIntegrator
{
    /// <summary>
    /// log q_mix(p_i) = log Σ_j exp(log q(u_ij | j) + offset_ij) for n points and K channels ([n, K]
    /// <paramref name="offset"/> = log(N_j/N) − log w_ij, −∞ where channel j does not reach point i): the flow's log
    /// densities <paramref name="logq"/> of the evaluated (point, channel) rows, gathered into n·K by
    /// <paramref name="index"/> (any valid row where the offset is −∞: it gets neither weight nor gradient).
    /// </summary>
    internal static Var<T> MixtureLogDensity<T>(Var<T> logq, int[] index, Tensor<T> offset) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = offset.Rows, k = offset.Cols;
        var gathered = Ops.Reshape(Ops.GatherColumns(Ops.Reshape(logq, 1, logq.Value.Length), index, n * k), n, k);
        return Ops.LogSumExpRows(Ops.Add(gathered, new Var<T>(offset)));
    }

    /// <summary>
    /// The mixture loss's terms c_i q_old,mix(p_i)/q_mix(p_i) per event (their sum is the loss): log q_mix from
    /// <see cref="MixtureLogDensity"/>, <paramref name="logQOld"/> the log mixture density the events were drawn from.
    /// </summary>
    internal static Var<T> MixtureTerms<T>(Var<T> logq, int[] index, Tensor<T> offset, Tensor<T> coefficient, Tensor<T> logQOld) where T : unmanaged, IFloatingPointIeee754<T> =>
        Ops.Mul(new Var<T>(coefficient), Ops.Exp(Ops.Sub(new Var<T>(logQOld), MixtureLogDensity(logq, index, offset))));

    /// <summary>
    /// N times the terms of this flow's mixture loss on <paramref name="n"/> events drawn by <paramref name="sampler"/>
    /// (its flow and shares), normalised by <paramref name="integral"/>: each estimates ∫ f²/q_mix / I² (q_mix with the
    /// round's calls per channel), unbiased whatever flow drew the events.
    /// </summary>
    internal double[] MixtureLossTerms(MultichannelFlowIntegrator sampler, int n, double integral)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        var loss = new MixtureLoss(this);
        loss.Prepare(sampler.Draw(n), (x, context) => HostLogDensity(sampler.Flow, x, context), integral);
        using var scope = TensorScope.Begin();
        using var _ = GradMode.Disable();
        var terms = loss.Terms().Value.ReadOnlySpan;
        var result = new double[terms.Length];
        for (int i = 0; i < result.Length; i++) result[i] = terms[i] * (double)result.Length;
        return result;
    }

    /// <summary>
    /// The mixture loss: the χ² divergence (1/N) Σ_i (f_i / (q_old,mix(p_i) Î))² q_old,mix(p_i) / q_mix(p_i) ≈ ∫ f²/q_mix / I²
    /// between f/I and the mixture q_mix(p) = Σ_j (N_j/N) q_θ(u_j | j)/w_j of the channel flows, on each round's events
    /// (N_j of them drawn from channel j, so from the mixture q_old,mix of the flow that drew them): the variance of
    /// the balance-weight estimator f/q_mix itself, exact for every θ on the stored sample, with gradients through
    /// every channel's q_θ(u_j | j) (K flow evaluations per event).
    /// </summary>
    private sealed class MixtureLoss(MultichannelFlowIntegrator owner) : TrainingLoss<float>
    {
        private Tensor<float>? _x, _context, _offset, _coefficient, _logQOld;
        private int[]? _index;
        private bool _skip;

        public override Var<float>? Compute(TrainingBatch<float> batch)
        {
            var o = owner.Options.Flow;
            bool first = batch.Step % o.StepsPerRound == 0;
            if (first)
            {
                var round = owner.Draw(o.SamplesPerRound);
                owner.Reallocate(round, Prepare(round, (x, context) => HostLogDensity(owner.Flow, x, context), null));
            }
            if (_skip)
            {
                if (first) owner.RoundLosses.Add(double.NaN);
                return null;
            }
            var loss = Ops.Sum(Terms());
            double value = loss.Value.ReadOnlySpan[0];
            if (first) owner.RoundLosses.Add(value);
            owner.StepLosses.Add(value);
            return loss;
        }

        /// <summary>Whether the round's steps are skipped (no channel reaches its points, or its estimate is not positive).</summary>
        public bool Skip => _skip;

        /// <summary>The flow's rows of the round: every (point, channel) pair it evaluates, [R, D] and one-hot [R, K] (after <see cref="Prepare"/>).</summary>
        public (Tensor<float> X, Tensor<float> Context) Rows => (_x!, _context!);

        /// <summary>The loss's terms per event with the owner's flow as it is now.</summary>
        public Var<float> Terms() => Terms(owner.Flow.Transform.Forward(new Var<float>(_x!), new Var<float>(_context!)).LogAbsDet);

        /// <summary>The loss's terms per event for the flow's log q [R] of the round's <see cref="Rows"/>.</summary>
        public Var<float> Terms(Var<float> logq) => MixtureTerms(logq, _index!, _offset!, _coefficient!, _logQOld!);

        /// <summary>
        /// Stores the loss's inputs for a round drawn by the flow whose log q(x | context) is <paramref name="drawnBy"/>, normalised by
        /// <paramref name="integral"/> (null: the round's own estimate), and returns its events' channel weights
        /// α_k F / q_old = (N_k/N) f / q_old,mix (what the calls are allocated by).
        /// </summary>
        public double[] Prepare(Round round, Func<Tensor<float>, Tensor<float>, float[]> drawnBy, double? integral)
        {
            foreach (var t in new[] { _x, _context, _offset, _coefficient, _logQOld }) t?.Dispose();
            int k = owner.Integrand.Channels, d = owner.Integrand.Dimensions, n = round.Values.Length;
            var coordinates = new double[n * k * d];
            var jacobians = new double[n * k];
            for (int c = 0, first = 0; c < k; first += round.Counts[c++])
            {
                int m = round.Counts[c];
                if (m > 0) owner.Integrand.ChannelCoordinates(c, round.U.AsSpan(first * d, m * d), coordinates.AsSpan(first * k * d, m * k * d), jacobians.AsSpan(first * k, m * k));
            }
            // the (point, channel) rows the flow evaluates: every channel with calls that reaches the point
            var rows = new List<int>(n * k);
            _index = new int[n * k];
            _offset = Tensor<float>.Empty(n, k).Untrack();
            var os = _offset.Span;
            for (int i = 0; i < n; i++)
            {
                int before = rows.Count;
                for (int j = 0; j < k; j++)
                {
                    int ij = i * k + j;
                    bool reached = round.Counts[j] > 0 && jacobians[ij] > 0;
                    os[ij] = reached ? (float)(Math.Log((double)round.Counts[j] / n) - Math.Log(jacobians[ij])) : float.NegativeInfinity;
                    if (reached) { _index[ij] = rows.Count; rows.Add(ij); }
                }
                // a point no channel reaches (f = 0 there) keeps a finite dummy entry, so that its zero term stays 0
                if (rows.Count == before) os[i * k] = 0;
            }
            _skip = rows.Count == 0;
            if (_skip) return new double[n];
            var (x, context) = owner.ChannelRows(coordinates, CollectionsMarshal.AsSpan(rows));
            _x = x.Untrack();
            _context = context.Untrack();
            var logOld = new double[n];
            using (TensorScope.Begin())
            using (GradMode.Disable())
            {
                var lq = MixtureLogDensity(new Var<float>(Tensor<float>.From(drawnBy(_x, _context), rows.Count)), _index, _offset).Value.ReadOnlySpan;
                for (int i = 0; i < n; i++) logOld[i] = lq[i];
            }
            // f / q_old,mix per event (f = F / w of the event's own channel), the round's estimate and the channels' parts
            var ratio = new double[n];
            var w = new double[n];
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                int c = round.Channel[i];
                ratio[i] = round.Values[i] == 0 ? 0 : round.Values[i] * Math.Exp(-Math.Log(jacobians[i * k + c]) - logOld[i]);
                w[i] = ratio[i] * round.Counts[c] / n;
                sum += ratio[i];
            }
            double norm = integral ?? sum / n;
            _skip = !(norm > 0);
            _coefficient = Tensor<float>.Empty(n).Untrack();
            _logQOld = Tensor<float>.FromDoubles(logOld, n).Untrack();
            var co = _coefficient.Span;
            for (int i = 0; i < n; i++)
            {
                double r = ratio[i] / norm;
                co[i] = (float)(r * r / n);
            }
            return w;
        }
    }
}
