using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.IO;

/// <summary>
/// The checksum every model-file kind of this library carries (flow models, training checkpoints, and the physics
/// models built on them) in its safetensors metadata under <see cref="MetadataKey"/>: "sha256:" followed by the
/// SHA-256 (hex) of every other metadata entry (sorted by key) and every tensor (sorted by name: name, element type,
/// shape, raw little-endian data), each field length-prefixed. A changed byte anywhere in the metadata or the data
/// changes it. (Flow model files written before it carry the bare hex SHA-256 of the tensors alone, which
/// the model file reader still accepts.)
/// </summary>
public static class FileChecksum
{
    /// <summary>The metadata key holding the checksum.</summary>
    public const string MetadataKey = "nflow.checksum";

    private const string Prefix = "sha256:";

    /// <summary>The checksum of <paramref name="tensors"/> and <paramref name="metadata"/> (its own <see cref="MetadataKey"/> entry, if any, left out).</summary>
    public static string Compute(IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(metadata);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AppendString(hash, "nflow file checksum 1");
        var keys = metadata.Keys.Where(k => k != MetadataKey).Order(StringComparer.Ordinal).ToList();
        AppendLength(hash, keys.Count);
        foreach (var k in keys)
        {
            AppendString(hash, k);
            AppendString(hash, metadata[k]);
        }
        var list = tensors.OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
        AppendLength(hash, list.Count);
        foreach (var e in list)
        {
            AppendString(hash, e.Name);
            AppendString(hash, e.DType.ToString());
            AppendLength(hash, e.Shape.Length);
            foreach (int d in e.Shape) AppendLength(hash, d);
            AppendLength(hash, e.ByteLength);
            if (e.DType == SafeTensorDType.F32) AppendLittleEndian(hash, e.As<float>().ReadOnlySpan);
            else AppendLittleEndian(hash, e.As<double>().ReadOnlySpan);
        }
        return Prefix + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>A copy of <paramref name="metadata"/> with the checksum of it and <paramref name="tensors"/> added under <see cref="MetadataKey"/>.</summary>
    public static Dictionary<string, string> Stamp(IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var list = tensors.ToList();
        var stamped = new Dictionary<string, string>(metadata, StringComparer.Ordinal);
        stamped.Remove(MetadataKey);
        stamped[MetadataKey] = Compute(list, stamped);
        return stamped;
    }

    /// <summary>As <see cref="Stamp(IEnumerable{SafeTensorEntry}, IReadOnlyDictionary{string, string})"/> for a state dictionary (no metadata: the checksum alone).</summary>
    public static Dictionary<string, string> Stamp<T>(IEnumerable<KeyValuePair<string, Tensor<T>>> tensors, IReadOnlyDictionary<string, string>? metadata)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return Stamp(tensors.Select(kv => SafeTensorEntry.From(kv.Key, kv.Value)), metadata ?? new Dictionary<string, string>());
    }

    /// <summary>
    /// Checks the checksum of a file read from <paramref name="path"/>; throws <see cref="ModelFileException"/> when
    /// it is missing (<paramref name="what"/> names the file kind in the message), in an unknown form, or does not match.
    /// </summary>
    public static void Verify(SafeTensorsFile file, string path, string what)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.Metadata.TryGetValue(MetadataKey, out var stored))
            throw new ModelFileException(path, $"the {what} has no '{MetadataKey}' entry (corrupt, or written by an older version without one)");
        if (!IsFull(stored))
            throw new ModelFileException(path, $"'{MetadataKey}' is '{Shorten(stored)}', not a checksum this library writes (corrupt file?)");
        string actual = Compute(file.Tensors, file.Metadata);
        if (!string.Equals(stored, actual, StringComparison.Ordinal))
            throw new ModelFileException(path, $"the content does not match its checksum ({MetadataKey} {Shorten(stored)}, computed {Shorten(actual)}): the file is corrupt");
    }

    /// <summary>True for a checksum in the form <see cref="Compute"/> writes ("sha256:" and 64 lower-case hex digits).</summary>
    internal static bool IsFull(string value) => value.Length == Prefix.Length + 64 && value.StartsWith(Prefix, StringComparison.Ordinal) && IsHex(value.AsSpan(Prefix.Length));

    /// <summary>True for the older tensor-only form (64 hex digits, no prefix).</summary>
    internal static bool IsTensorOnly(string value) => value.Length == 64 && IsHex(value);

    /// <summary>SHA-256 (hex) over each tensor's name, dtype, shape and raw little-endian data, by name: the older tensor-only checksum.</summary>
    internal static string TensorOnly(IEnumerable<SafeTensorEntry> entries)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{e.Name}\0{e.DType}\0{string.Join(",", e.Shape)}\0"));
            if (e.DType == SafeTensorDType.F32) AppendLittleEndian(hash, e.As<float>().ReadOnlySpan);
            else AppendLittleEndian(hash, e.As<double>().ReadOnlySpan);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static bool IsHex(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
            if (!char.IsAsciiHexDigit(c)) return false;
        return true;
    }

    private static string Shorten(string s) => s.Length <= 24 ? s : s[..20] + "…";

    private static void AppendLength(IncrementalHash hash, long n)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, n);
        hash.AppendData(b);
    }

    private static void AppendString(IncrementalHash hash, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        AppendLength(hash, bytes.Length);
        hash.AppendData(bytes);
    }

    private static void AppendLittleEndian<TE>(IncrementalHash hash, ReadOnlySpan<TE> data) where TE : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(data);
        if (BitConverter.IsLittleEndian) { hash.AppendData(bytes); return; }
        var copy = bytes.ToArray();
        SafeTensors.SwapElements(copy, System.Runtime.CompilerServices.Unsafe.SizeOf<TE>());
        hash.AppendData(copy);
    }
}
