using System.Numerics;
using System.Runtime.CompilerServices;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Tensors;

/// <summary>
/// Seeded, splittable pseudo-random generator (xoshiro256**, seeded through SplitMix64). The same seed gives the
/// same bits on every machine; <see cref="Split"/> derives independent streams for parallel or nested jobs.
/// Not thread-safe: give each thread its own (split) generator.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareNormal;
    private bool _hasSpare;

    /// <summary>Creates a generator from a 64-bit seed.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
        if ((_s0 | _s1 | _s2 | _s3) == 0) _s0 = 1;
    }

    /// <summary>Creates a generator from a signed seed (convenience for CLI seeds).</summary>
    public Rng(long seed) : this(unchecked((ulong)seed)) { }

    /// <summary>Creates a generator from an int seed.</summary>
    public Rng(int seed) : this(unchecked((ulong)(long)seed)) { }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next 64 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    private static readonly ulong[] JumpPolynomial = [0x180EC6D33CFD0ABAUL, 0xD5A61266F0C9392CUL, 0xA9582618E03FC9AAUL, 0x39ABDC4529B1661CUL];

    /// <summary>
    /// Advances the generator by <paramref name="times"/> · 2^128 draws (xoshiro256**'s jump polynomial, as in its
    /// reference code), so streams 2^128 draws apart never overlap; a cached normal value is dropped. Costs 256 draws per jump.
    /// </summary>
    public void Jump(int times = 1)
    {
        if (times < 0) throw new ArgumentOutOfRangeException(nameof(times), times, "the number of jumps must be ≥ 0");
        var jump = new Gf2Polynomial(JumpPolynomial[0], JumpPolynomial[1], JumpPolynomial[2], JumpPolynomial[3]);
        for (int k = 0; k < times; k++) Apply(jump);
        _hasSpare = false;
    }

    /// <summary>
    /// Advances the generator by <paramref name="draws"/> draws, to the state that many <see cref="NextUInt64"/>
    /// calls would leave, in a few microseconds whatever the count (x^draws modulo the generator's characteristic
    /// polynomial); a cached normal value is dropped. Lets threads start at known offsets of one stream.
    /// </summary>
    public void Skip(ulong draws)
    {
        Apply(Gf2Polynomial.PowerOfX(draws));
        _hasSpare = false;
    }

    /// <summary>Sets the state to p(T)·state, T the one-draw transition: the sum of the states after i draws over p's terms x^i.</summary>
    private void Apply(in Gf2Polynomial p)
    {
        ulong s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int w = 0; w < 4; w++)
        {
            ulong word = p[w];
            for (int b = 0; b < 64; b++)
            {
                if ((word & (1UL << b)) != 0) { s0 ^= _s0; s1 ^= _s1; s2 ^= _s2; s3 ^= _s3; }
                NextUInt64();
            }
        }
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    /// <summary>
    /// Stream <paramref name="index"/> of <paramref name="seed"/>: <c>new Rng(seed)</c> jumped ahead
    /// <paramref name="index"/> · 2^128 draws (<see cref="Jump"/>). Stream 0 is <c>new Rng(seed)</c> itself; distinct
    /// streams of one seed never overlap, and each is the same on every machine.
    /// </summary>
    public static Rng Stream(long seed, int index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "the stream index must be ≥ 0");
        var rng = new Rng(seed);
        rng.Jump(index);
        return rng;
    }

    /// <summary>A new generator whose stream is independent of this one's (this generator advances).</summary>
    public Rng Split() => new(NextUInt64() ^ 0xD1B54A32D192ED03UL);

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform float in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's method).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), $"NextInt needs n > 0, got {n}");
        ulong m = (ulong)(uint)(NextUInt64() >> 32) * (uint)n;
        uint low = (uint)m;
        if (low < (uint)n)
        {
            uint threshold = (uint)(-n) % (uint)n;
            while (low < threshold)
            {
                m = (ulong)(uint)(NextUInt64() >> 32) * (uint)n;
                low = (uint)m;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>Standard normal double (polar Box–Muller; values come in pairs, the second is cached).</summary>
    public double NextNormal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareNormal;
        }
        double u, v, s;
        do
        {
            u = 2.0 * NextDouble() - 1.0;
            v = 2.0 * NextDouble() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        double f = Math.Sqrt(-2.0 * Math.Log(s) / s);
        _spareNormal = v * f;
        _hasSpare = true;
        return u * f;
    }

    /// <summary>Fills <paramref name="destination"/> with uniform values in [low, high).</summary>
    public void Uniform<T>(Span<T> destination, double low = 0.0, double high = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double w = high - low;
        if (typeof(T) == typeof(float))
        {
            var d = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(destination);
            for (int i = 0; i < d.Length; i++)
            {
                float v = (float)(low + w * NextDouble());
                d[i] = v < high ? v : MathF.BitDecrement((float)high); // rounding must not reach high
            }
        }
        else
            for (int i = 0; i < destination.Length; i++) destination[i] = T.CreateTruncating(low + w * NextDouble());
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with normal values of the given mean and standard deviation: the values
    /// <see cref="NextNormal"/> would give one by one, and the generator ends where that would leave it. Long fills on
    /// several worker threads split the polar method's tries into chunks, each drawn by its own copy of the generator
    /// skipped (<see cref="Skip"/>) to the chunk's first draw, and place the accepted pairs in order (same values).
    /// </summary>
    public void Normal<T>(Span<T> destination, double mean = 0.0, double std = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (destination.Length >= ParallelNormalMin && WorkerPool.MaxThreads > 1 && !WorkerPool.IsInsidePart)
        {
            // pieces continue one another's sequence (a cached value carries over), so any piece size gives the same values
            for (int at = 0; at < destination.Length; at += ParallelNormalPiece)
                NormalParallel(destination.Slice(at, Math.Min(ParallelNormalPiece, destination.Length - at)), mean, std);
            return;
        }
        for (int i = 0; i < destination.Length; i++) destination[i] = T.CreateTruncating(mean + std * NextNormal());
    }

    /// <summary>Fewest values for which <see cref="Normal{T}(Span{T}, double, double)"/> evaluates in parallel.</summary>
    internal const int ParallelNormalMin = 16384;

    /// <summary>Most values one parallel pass fills (its scratch holds about 1.3 of them as doubles).</summary>
    internal static int ParallelNormalPiece = 1 << 24;

    /// <summary>Standard deviations of the accepted-try count a parallel fill budgets beyond the mean (tests lower it to reach the shortfall path).</summary>
    internal static double BudgetSigmas = 10;

    private unsafe void NormalParallel<T>(Span<T> destination, double mean, double std) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = destination.Length, start = 0;
        if (_hasSpare)
        {
            _hasSpare = false;
            destination[0] = T.CreateTruncating(mean + std * _spareNormal);
            start = 1;
        }
        int pairs = (n - start + 1) / 2;
        if (pairs == 0) return; // the cached value filled it
        // A try (two draws) is accepted with probability π/4: budget the mean number of tries for `pairs` acceptances
        // plus 10 standard deviations (√(0.348·pairs)); the rare shortfall is drawn in order afterwards.
        long budget = Math.Max(16, (long)Math.Ceiling(pairs * (4 / Math.PI) + BudgetSigmas * Math.Sqrt(0.35 * pairs)) + 16);
        int chunks = (int)Math.Min(2L * WorkerPool.MaxThreads, budget / 4096 + 1); // two per thread: a late thread delays the fill less
        var job = new NormalChunks(this, (int)budget, chunks, mean, std);
        try
        {
            ParallelRows.ForParts(chunks, job, static (j, c) => j.Draw(c));
            // chunk c's accepted pairs are pairs Offset[c] … Offset[c] + Count[c] − 1 of the serial sequence
            int accepted = 0, last = -1;
            for (int c = 0; c < chunks; c++)
            {
                job.Offset[c] = accepted;
                if (accepted < pairs && accepted + job.Count[c] >= pairs) last = c;
                accepted += job.Count[c];
            }
            fixed (T* d = destination)
            {
                job.Destination = (nint)d;
                job.Start0 = start; job.Length = n; job.Pairs = pairs;
                ParallelRows.ForParts(chunks, job, static (j, c) => j.Place<T>(c));
            }
            var state = job.Start;
            if (last >= 0)
            {
                // the generator continues after the try that gave the last pair used
                int lastPair = job.First[last] + (pairs - 1 - job.Offset[last]);
                (_s0, _s1, _s2, _s3) = state;
                Skip(2 * (ulong)job.TryIndex[lastPair]);
                double u = 2.0 * NextDouble() - 1.0, v = 2.0 * NextDouble() - 1.0, s = u * u + v * v; // that try again
                if ((n - start) % 2 == 1)
                {
                    // the last pair's second value is kept for the next draw, as NextNormal keeps it
                    _spareNormal = v * Math.Sqrt(-2.0 * Math.Log(s) / s);
                    _hasSpare = true;
                }
            }
            else
            {
                // the budget fell short: the remaining pairs come in order after the budgeted tries
                (_s0, _s1, _s2, _s3) = state;
                Skip(2 * (ulong)budget);
                for (int i = start + 2 * accepted; i < n; i++) destination[i] = T.CreateTruncating(mean + std * NextNormal());
            }
        }
        finally { job.Return(); }
    }

    /// <summary>The chunks of one parallel normal fill: per chunk its accepted pairs' values and try indices.</summary>
    private sealed class NormalChunks
    {
        public readonly (ulong, ulong, ulong, ulong) Start;
        public readonly int[] Count, First, Offset, TryIndex;
        public nint Destination;
        public int Start0, Length, Pairs;
        public readonly double[] Values;
        private readonly int _budget, _chunks;
        private readonly double _mean, _std;

        public NormalChunks(Rng rng, int budget, int chunks, double mean, double std)
        {
            Start = (rng._s0, rng._s1, rng._s2, rng._s3);
            _budget = budget;
            _chunks = chunks;
            _mean = mean;
            _std = std;
            Count = new int[chunks];
            First = new int[chunks];
            Offset = new int[chunks];
            for (int c = 0; c < chunks; c++) First[c] = TryStart(c);
            TryIndex = System.Buffers.ArrayPool<int>.Shared.Rent(budget);
            Values = System.Buffers.ArrayPool<double>.Shared.Rent(2 * budget);
        }

        private int TryStart(int c) => (int)((long)_budget * c / _chunks);

        /// <summary>Draws chunk <paramref name="c"/>'s tries with the generator skipped to its first draw; its accepted pairs are stored from slot First[c] on.</summary>
        public void Draw(int c)
        {
            var rng = new Rng(0UL);
            (rng._s0, rng._s1, rng._s2, rng._s3) = Start;
            int t0 = TryStart(c), t1 = TryStart(c + 1), k = First[c];
            rng.Skip(2 * (ulong)t0);
            for (int t = t0; t < t1; t++)
            {
                double u = 2.0 * rng.NextDouble() - 1.0;
                double v = 2.0 * rng.NextDouble() - 1.0;
                double s = u * u + v * v;
                if (s >= 1.0 || s == 0.0) continue;
                // the same f = √(−2 ln s / s) and products as NextNormal
                double f = Math.Sqrt(-2.0 * Math.Log(s) / s);
                Values[2 * k] = _mean + _std * (u * f);
                Values[2 * k + 1] = _mean + _std * (v * f);
                TryIndex[k] = t;
                k++;
            }
            Count[c] = k - First[c];
        }

        /// <summary>Writes chunk <paramref name="c"/>'s pairs (those the fill needs) at their places in the destination.</summary>
        public unsafe void Place<T>(int c) where T : unmanaged, IFloatingPointIeee754<T>
        {
            T* dst = (T*)Destination;
            int take = Math.Min(Count[c], Pairs - Offset[c]);
            for (int j = 0; j < take; j++)
            {
                int at = Start0 + 2 * (Offset[c] + j);
                dst[at] = T.CreateTruncating(Values[2 * (First[c] + j)]);
                if (at + 1 < Length) dst[at + 1] = T.CreateTruncating(Values[2 * (First[c] + j) + 1]);
            }
        }

        public void Return()
        {
            System.Buffers.ArrayPool<int>.Shared.Return(TryIndex);
            System.Buffers.ArrayPool<double>.Shared.Return(Values);
        }
    }

    /// <summary>A tensor of uniform values in [low, high).</summary>
    public Tensor<T> Uniform<T>(int[] shape, double low = 0.0, double high = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var t = Tensor<T>.Empty(shape);
        Uniform(t.Span, low, high);
        return t;
    }

    /// <summary>A tensor of standard normal values.</summary>
    public Tensor<T> Normal<T>(params int[] shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var t = Tensor<T>.Empty(shape);
        Normal(t.Span);
        return t;
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher–Yates).</summary>
    public void Shuffle<TItem>(Span<TItem> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>A random permutation of 0 … n−1.</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        Shuffle(p.AsSpan());
        return p;
    }
}
