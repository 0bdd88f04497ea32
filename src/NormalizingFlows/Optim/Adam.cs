using System.Numerics;
using System.Runtime.InteropServices;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Optim;

/// <summary>
/// Adam (Kingma &amp; Ba 2015) with bias correction; <c>weightDecay</c> adds the L2 term wd·θ to the gradient (as
/// PyTorch's Adam). Frozen parameters and parameters without a gradient are skipped (their step counts do not
/// advance). One fused, vectorised pass per parameter; the moments are kept in the parameter's element type.
/// State: "step" plus "{i}.step", "{i}.exp_avg", "{i}.exp_avg_sq" for parameter index i.
/// </summary>
public class Adam<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T>[] _m, _v;
    private readonly long[] _steps;

    /// <summary>Creates the optimizer (PyTorch defaults).</summary>
    public Adam(IEnumerable<Parameter<T>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.0)
        : this(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: false) { }

    /// <summary>Creates the optimizer; <paramref name="decoupled"/> selects AdamW's decoupled weight decay.</summary>
    protected Adam(IEnumerable<Parameter<T>> parameters, double learningRate, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
        : base(parameters, learningRate)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "must lie in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "must lie in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "must be ≥ 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "must be ≥ 0");
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay; Decoupled = decoupled;
        int n = Parameters.Count;
        _m = new Tensor<T>[n]; _v = new Tensor<T>[n]; _steps = new long[n];
        for (int i = 0; i < n; i++)
        {
            _m[i] = Tensor<T>.ZerosLike(Parameters[i].Value).Untrack();
            _v[i] = Tensor<T>.ZerosLike(Parameters[i].Value).Untrack();
        }
    }

    /// <summary>Decay rate of the first moment.</summary>
    public double Beta1 { get; }

    /// <summary>Decay rate of the second moment.</summary>
    public double Beta2 { get; }

    /// <summary>Added to √v̂ in the denominator.</summary>
    public double Eps { get; }

    /// <summary>Weight decay coefficient (L2 for Adam, decoupled for AdamW).</summary>
    public double WeightDecay { get; }

    /// <summary>True for decoupled weight decay (AdamW): θ ← θ·(1 − lr·wd) before the Adam update.</summary>
    public bool Decoupled { get; }

    /// <inheritdoc/>
    public override void Step()
    {
        StepCount++;
        // Which parameters move, and where each starts in one flat index space (the update is elementwise, so any
        // split of that space over threads gives the same bits). List and delegate are reused: no allocation per step.
        _active.Clear();
        int total = 0;
        for (int i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i];
            if (!p.Trainable || p.Grad is not { IsDisposed: false }) continue;
            _steps[i]++;
            _active.Add((i, total));
            total += p.Value.Length;
        }
        if (total > 0) Tensors.Kernels.ParallelRows.For(total, ParallelElements, _updateSpan ??= UpdateSpan);
    }

    private readonly List<(int Index, int Offset)> _active = [];
    private Action<int, int>? _updateSpan;

    /// <summary>Updates the elements [start, end) of the flat index space of the active parameters.</summary>
    private void UpdateSpan(int start, int end)
    {
        foreach (var (i, offset) in _active)
        {
            int lo = Math.Max(start, offset) - offset, hi = Math.Min(end, offset + Parameters[i].Value.Length) - offset;
            if (hi > lo) UpdateRange(i, lo, hi - lo);
        }
    }

    /// <summary>Fewest elements per thread for a threaded update.</summary>
    private const int ParallelElements = 1 << 15;

    private void UpdateRange(int i, int start, int length)
    {
        var p = Parameters[i];
        long t = _steps[i];
        double bc1 = 1 - Math.Pow(Beta1, t), bc2 = 1 - Math.Pow(Beta2, t);
        Update(p.Value.Span.Slice(start, length), p.Grad!.ReadOnlySpan.Slice(start, length), _m[i].Span.Slice(start, length), _v[i].Span.Slice(start, length),
            T.CreateTruncating(Beta1), T.CreateTruncating(Beta2),
            T.CreateTruncating(LearningRate / bc1), T.CreateTruncating(1 / Math.Sqrt(bc2)), T.CreateTruncating(Eps),
            T.CreateTruncating(Decoupled ? 0 : WeightDecay), T.CreateTruncating(Decoupled ? 1 - LearningRate * WeightDecay : 1));
    }

    /// <summary>
    /// The fused update: g' = g + l2·θ; m = β₁m + (1−β₁)g'; v = β₂v + (1−β₂)g'²; θ = θ·decay − stepSize·m / (√v·invSqrtBc2 + eps).
    /// </summary>
    private static void Update(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, T b1, T b2, T stepSize, T invSqrtBc2, T eps, T l2, T decay)
    {
        T omb1 = T.One - b1, omb2 = T.One - b2;
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && p.Length >= Vector<T>.Count)
        {
            var vp = MemoryMarshal.Cast<T, Vector<T>>(p);
            var vg = MemoryMarshal.Cast<T, Vector<T>>(g);
            var vm = MemoryMarshal.Cast<T, Vector<T>>(m);
            var vv = MemoryMarshal.Cast<T, Vector<T>>(v);
            Vector<T> B1 = new(b1), B2 = new(b2), O1 = new(omb1), O2 = new(omb2), S = new(stepSize), C = new(invSqrtBc2),
                E = new(eps), L = new(l2), D = new(decay);
            for (int k = 0; k < vp.Length; k++)
            {
                var pk = vp[k];
                var gk = vg[k] + L * pk;
                var mk = B1 * vm[k] + O1 * gk;
                var vk = B2 * vv[k] + O2 * gk * gk;
                vm[k] = mk; vv[k] = vk;
                vp[k] = pk * D - S * mk / (Vector.SquareRoot(vk) * C + E);
            }
            i = vp.Length * Vector<T>.Count;
        }
        for (; i < p.Length; i++)
        {
            T pk = p[i];
            T gk = g[i] + l2 * pk;
            T mk = b1 * m[i] + omb1 * gk;
            T vk = b2 * v[i] + omb2 * gk * gk;
            m[i] = mk; v[i] = vk;
            p[i] = pk * decay - stepSize * mk / (T.Sqrt(vk) * invSqrtBc2 + eps);
        }
    }

    /// <inheritdoc/>
    public override OrderedDictionary<string, Tensor<T>> ExportState()
    {
        var d = new OrderedDictionary<string, Tensor<T>> { ["step"] = Tensor<T>.Scalar(T.CreateTruncating(StepCount)).Untrack() };
        for (int i = 0; i < Parameters.Count; i++)
        {
            d[$"{i}.step"] = Tensor<T>.Scalar(T.CreateTruncating(_steps[i])).Untrack();
            d[$"{i}.exp_avg"] = _m[i].Clone().Untrack();
            d[$"{i}.exp_avg_sq"] = _v[i].Clone().Untrack();
        }
        return d;
    }

    /// <inheritdoc/>
    public override void ImportState(IReadOnlyDictionary<string, Tensor<T>> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Tensor<T> Get(string name, Tensor<T> like)
        {
            if (!state.TryGetValue(name, out var t)) throw new KeyNotFoundException($"optimizer state: missing '{name}'");
            if (!t.SameShape(like)) throw new ArgumentException($"optimizer state: '{name}' has shape {t.ShapeString}, expected {like.ShapeString}");
            return t;
        }
        var scalar = Tensor<T>.Scalar(T.Zero);
        var step = Get("step", scalar);
        var steps = new long[Parameters.Count];
        var ms = new Tensor<T>[Parameters.Count]; var vs = new Tensor<T>[Parameters.Count];
        for (int i = 0; i < Parameters.Count; i++)
        {
            steps[i] = long.CreateTruncating(Get($"{i}.step", scalar)[0]);
            ms[i] = Get($"{i}.exp_avg", _m[i]);
            vs[i] = Get($"{i}.exp_avg_sq", _v[i]);
        }
        int expected = 1 + 3 * Parameters.Count;
        if (state.Count != expected)
        {
            var extra = state.Keys.FirstOrDefault(k => k != "step" && !IsParamKey(k));
            throw new ArgumentException($"optimizer state: {state.Count} entries, expected {expected}" + (extra is null ? "" : $" (unexpected '{extra}')"));
        }
        StepCount = long.CreateTruncating(step[0]);
        for (int i = 0; i < Parameters.Count; i++)
        {
            _steps[i] = steps[i];
            ms[i].CopyTo(_m[i]);
            vs[i].CopyTo(_v[i]);
        }
    }

    private bool IsParamKey(string k)
    {
        int dot = k.IndexOf('.');
        return dot > 0 && int.TryParse(k.AsSpan(0, dot), out int i) && i >= 0 && i < Parameters.Count
            && k[(dot + 1)..] is "step" or "exp_avg" or "exp_avg_sq";
    }
}
