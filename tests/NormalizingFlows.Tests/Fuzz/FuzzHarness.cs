using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace NormalizingFlows.Tests.Fuzz;

/// <summary>
/// Seeded random mutations of a valid file (truncation, bit flips, byte replacement, insertion, deletion, duplicated
/// spans, digit runs replaced by huge or negative numbers, 8/4/2-byte integers overwritten with extreme values) fed to
/// a reader. Every input must end in the reader's own exception type with a message naming the source, or be
/// accepted; for checksummed formats an accepted input must read back as the original. A reader that takes longer
/// than <see cref="Timeout"/> on one input is a hang. Shared by the test projects (linked into NormalizingFlows.Hep.Tests).
/// </summary>
internal static class FuzzHarness
{
    /// <summary>Longest time one input may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static readonly string[] HugeNumbers =
        ["99999999999999999999999", "-1", "-3", "0", "2147483647", "2147483648", "4294967296", "9223372036854775807", "18446744073709551616", "1e308", "-2147483648", "1e999", "NaN"];

    private const string Printable = " ,.-0123456789\n\"{}[]:eE#";

    private static readonly ulong[] HugeIntegers = [ulong.MaxValue, long.MaxValue, (ulong)long.MaxValue + 1, int.MaxValue, (ulong)int.MaxValue + 1, uint.MaxValue, 0, 1];

    /// <summary>What a fuzz run found.</summary>
    public sealed record Counts(string Reader, int Tried, int NamedErrors, int Accepted, int AcceptedSameAsOriginal, double Seconds)
    {
        /// <summary>One line for the test output.</summary>
        public override string ToString() =>
            $"{Reader}: {Tried} inputs tried, {NamedErrors} named errors, {Accepted} accepted ({AcceptedSameAsOriginal} of them identical to the original), {Seconds:F1} s";
    }

    /// <summary>One random mutation of <paramref name="valid"/>.</summary>
    public static byte[] Mutate(byte[] valid, Random rng)
    {
        if (valid.Length == 0) return [(byte)rng.Next(256)];
        var b = valid.ToList();
        int n = b.Count;
        int Pos() => n == 0 ? 0 : rng.Next(n);
        switch (rng.Next(9))
        {
            case 0: // truncate
                return valid[..rng.Next(n)];
            case 1: // flip 1–3 bits
                {
                    var c = (byte[])valid.Clone();
                    for (int k = rng.Next(1, 4); k > 0; k--) c[Pos()] ^= (byte)(1 << rng.Next(8));
                    return c;
                }
            case 2: // replace 1–4 bytes
                {
                    var c = (byte[])valid.Clone();
                    for (int k = rng.Next(1, 5); k > 0; k--) c[Pos()] = (byte)rng.Next(256);
                    return c;
                }
            case 3: // insert 1–16 random bytes (sometimes printable)
                {
                    int at = rng.Next(n + 1), len = rng.Next(1, 17);
                    var ins = new byte[len];
                    if (rng.Next(2) == 0) rng.NextBytes(ins);
                    else for (int i = 0; i < len; i++) ins[i] = (byte)Printable[rng.Next(Printable.Length)];
                    b.InsertRange(at, ins);
                    return [.. b];
                }
            case 4: // delete a span
                {
                    int at = Pos(), len = Math.Min(rng.Next(1, 17), n - at);
                    b.RemoveRange(at, Math.Max(0, len));
                    return [.. b];
                }
            case 5: // duplicate a span
                {
                    int at = Pos(), len = Math.Min(rng.Next(1, 64), n - at);
                    b.InsertRange(at, valid.AsSpan(at, Math.Max(0, len)).ToArray());
                    return [.. b];
                }
            case 6: // a run of ASCII digits (a count, a length, a shape, a value) replaced by a huge, negative or odd number
                {
                    var runs = DigitRuns(valid);
                    if (runs.Count == 0) goto case 2;
                    var (at, len) = runs[rng.Next(runs.Count)];
                    b.RemoveRange(at, len);
                    b.InsertRange(at, Encoding.ASCII.GetBytes(HugeNumbers[rng.Next(HugeNumbers.Length)]));
                    return [.. b];
                }
            case 7: // an 8-, 4- or 2-byte little-endian integer overwritten with an extreme value (at the start: a length prefix)
                {
                    var c = (byte[])valid.Clone();
                    int size = new[] { 8, 4, 2 }[rng.Next(3)];
                    if (n < size) return c;
                    int at = rng.Next(4) == 0 ? 0 : rng.Next(n - size + 1);
                    ulong v = HugeIntegers[rng.Next(HugeIntegers.Length)];
                    if (size == 8) BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(at), v);
                    else if (size == 4) BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(at), (uint)v);
                    else BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(at), (ushort)v);
                    return c;
                }
            default: // two mutations at once
                return Mutate(Mutate(valid, rng), rng);
        }
    }

    private static List<(int At, int Length)> DigitRuns(byte[] bytes)
    {
        var runs = new List<(int, int)>();
        for (int i = 0; i < bytes.Length;)
        {
            if (bytes[i] is >= (byte)'0' and <= (byte)'9')
            {
                int j = i;
                while (j < bytes.Length && bytes[j] is >= (byte)'0' and <= (byte)'9') j++;
                runs.Add((i, j - i));
                i = j;
            }
            else i++;
        }
        return runs;
    }

    /// <summary>
    /// Feeds <paramref name="count"/> mutations of <paramref name="valid"/> (seeded by <paramref name="seed"/>) to
    /// <paramref name="read"/>, which returns whether what it read equals the original (it throws for a refused input).
    /// Asserts that every exception is a <typeparamref name="TError"/> whose message contains <paramref name="source"/>,
    /// that no input hangs, and, when <paramref name="checksummed"/>, that every accepted input equals the original
    /// (without <paramref name="acceptAllowed"/>, that none is accepted).
    /// </summary>
    public static Counts Run<TError>(string reader, byte[] valid, Func<byte[], bool> read, string source, bool checksummed,
        ITestOutputHelper output, int count = 2000, int seed = 1, bool acceptAllowed = true) where TError : Exception
    {
        if (acceptAllowed) Assert.True(read(valid), $"{reader}: the valid file must read back as itself");
        var rng = new Random(seed);
        var clock = Stopwatch.StartNew();
        int named = 0, accepted = 0, same = 0, current = -1;
        long started = 0;
        // one worker runs the inputs in turn; this thread watches that none of them takes longer than Timeout
        var worker = Task.Factory.StartNew(() =>
        {
            for (int i = 0; i < count; i++)
            {
                var input = Mutate(valid, rng);
                Volatile.Write(ref started, Stopwatch.GetTimestamp());
                Volatile.Write(ref current, i);
                try
                {
                    bool equal = read(input);
                    if (!acceptAllowed) Assert.Fail($"{reader}: input {i} (seed {seed}) was accepted; every input must be refused");
                    accepted++;
                    if (equal) same++;
                    else if (checksummed) Assert.Fail($"{reader}: input {i} (seed {seed}, {input.Length} bytes) was accepted but differs from the original");
                }
                catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
                {
                    if (ex is not TError)
                        Assert.Fail($"{reader}: input {i} (seed {seed}) threw {ex.GetType().Name}, not {typeof(TError).Name}: {ex}");
                    if (string.IsNullOrWhiteSpace(ex.Message) || !ex.Message.Contains(source, StringComparison.Ordinal))
                        Assert.Fail($"{reader}: input {i} (seed {seed}): the message does not name {source}: {ex.Message}");
                    named++;
                }
            }
        }, TaskCreationOptions.LongRunning);
        while (!worker.Wait(TimeSpan.FromMilliseconds(100)))
        {
            var running = Stopwatch.GetElapsedTime(Volatile.Read(ref started));
            if (Volatile.Read(ref current) >= 0 && running > Timeout)
                Assert.Fail($"{reader}: input {Volatile.Read(ref current)} (seed {seed}) did not finish within {Timeout.TotalSeconds} s");
        }
        worker.GetAwaiter().GetResult(); // rethrows an assertion failure of the worker
        var counts = new Counts(reader, count, named, accepted, same, clock.Elapsed.TotalSeconds);
        output.WriteLine(counts.ToString());
        return counts;
    }
}
