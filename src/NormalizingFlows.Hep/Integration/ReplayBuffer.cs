using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// MadNIS's replay buffer (Heimel et al. 2023, arXiv 2212.06172): a first-in-first-out store of the last
/// <see cref="Capacity"/> evaluated events, each kept with its integrand value f(x) and the log-density log q_old(x)
/// of the sampler that drew it. Training on buffered events costs no integrand calls; the importance-weighted losses
/// of <see cref="NormalizingFlows.Training.SampledDivergenceLoss{T}"/> stay exact on them because every event carries
/// its own q_old (the loss reweights by q_current/q_old event by event), even when the buffer mixes several densities.
/// </summary>
public sealed class ReplayBuffer
{
    private readonly double[] _x, _values, _logDensity;
    private int _next;

    /// <summary>Creates an empty buffer of <paramref name="capacity"/> events of <paramref name="dimensions"/> coordinates.</summary>
    public ReplayBuffer(int capacity, int dimensions)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the buffer must hold at least one event");
        if (dimensions < 1) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "events need at least one coordinate");
        Capacity = capacity;
        Dimensions = dimensions;
        _x = new double[(long)capacity * dimensions];
        _values = new double[capacity];
        _logDensity = new double[capacity];
    }

    /// <summary>The most events kept (older ones are overwritten first).</summary>
    public int Capacity { get; }

    /// <summary>Coordinates per event.</summary>
    public int Dimensions { get; }

    /// <summary>Events held now (at most <see cref="Capacity"/>).</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Stores n = <paramref name="values"/>.Length events: points <paramref name="x"/> (row-major, n·d), f(x) and the
    /// log-density they were drawn from; beyond the capacity the oldest events are dropped.
    /// </summary>
    public void Add(ReadOnlySpan<double> x, ReadOnlySpan<double> values, ReadOnlySpan<double> logDensity)
    {
        int n = values.Length, d = Dimensions;
        if (x.Length != n * d) throw new ArgumentException($"x has {x.Length} values for {n} events of {d} coordinates", nameof(x));
        if (logDensity.Length != n) throw new ArgumentException($"logDensity has {logDensity.Length} values for {n} events", nameof(logDensity));
        for (int i = 0; i < n; i++)
        {
            if (!double.IsFinite(logDensity[i])) throw new ArgumentException($"event {i} has log-density {logDensity[i]}: it must be finite", nameof(logDensity));
            x.Slice(i * d, d).CopyTo(_x.AsSpan(_next * d, d));
            _values[_next] = values[i];
            _logDensity[_next] = logDensity[i];
            _next = (_next + 1) % Capacity;
            if (Count < Capacity) Count++;
        }
    }

    /// <summary>
    /// <paramref name="n"/> events drawn uniformly without replacement (all of them, shuffled, when the buffer holds
    /// fewer), using <paramref name="rng"/>.
    /// </summary>
    public BufferedSample Draw(int n, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "draw at least one event");
        if (Count == 0) throw new InvalidOperationException("the replay buffer is empty");
        int k = Math.Min(n, Count), d = Dimensions;
        var index = new int[Count];
        for (int i = 0; i < index.Length; i++) index[i] = i;
        var x = new double[k * d];
        var values = new double[k];
        var logDensity = new double[k];
        for (int i = 0; i < k; i++)
        {
            // partial Fisher–Yates: position i takes a uniform pick among the events not drawn yet
            int j = i + rng.NextInt(index.Length - i);
            (index[i], index[j]) = (index[j], index[i]);
            int e = index[i];
            _x.AsSpan(e * d, d).CopyTo(x.AsSpan(i * d, d));
            values[i] = _values[e];
            logDensity[i] = _logDensity[e];
        }
        return new BufferedSample(x, values, logDensity);
    }
}
