using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.IO;

/// <summary>
/// Reader and writer of the safetensors layout (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// unsigned header length N, N bytes of UTF-8 JSON
/// <c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …, "__metadata__": {…}}</c> padded with
/// spaces to a multiple of 8, then the raw little-endian tensor data packed in order (offsets relative to the start
/// of the data). Files are written atomically and read with full validation.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted (as the reference implementation: 100 MB).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>Writes tensors of one element type (and optional metadata) to <paramref name="path"/> atomically.</summary>
    public static void Save<T>(string path, IEnumerable<KeyValuePair<string, Tensor<T>>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Save(path, tensors.Select(kv => SafeTensorEntry.From(kv.Key, kv.Value)), metadata);
    }

    /// <summary>
    /// Writes the entries (and optional metadata) to <paramref name="path"/> atomically: into a temporary file in the
    /// same directory, flushed to disk, then moved over the target, so an interrupted write never destroys a good file.
    /// </summary>
    public static void Save(string path, IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var header = BuildHeader(list, metadata);
        AtomicFile.Write(path, fs => WriteBody(fs, header, list));
    }

    /// <summary>The bytes of a safetensors file holding the entries and metadata.</summary>
    public static byte[] Serialize(IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var header = BuildHeader(list, metadata);
        using var ms = new MemoryStream();
        WriteBody(ms, header, list);
        return ms.ToArray();
    }

    /// <summary>The bytes of a safetensors file holding tensors of one element type.</summary>
    public static byte[] Serialize<T>(IEnumerable<KeyValuePair<string, Tensor<T>>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Serialize(tensors.Select(kv => SafeTensorEntry.From(kv.Key, kv.Value)), metadata);

    private static byte[] BuildHeader(List<SafeTensorEntry> list, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in list)
        {
            if (string.IsNullOrEmpty(e.Name)) throw new ArgumentException("safetensors: tensor names must be non-empty");
            if (e.Name == MetadataKey) throw new ArgumentException($"safetensors: '{MetadataKey}' is reserved and cannot name a tensor");
            if (!names.Add(e.Name)) throw new ArgumentException($"safetensors: duplicate tensor name '{e.Name}'");
        }
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(v, $"metadata['{k}']");
                    w.WriteString(k, v);
                }
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in list)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.ToString());
                w.WriteStartArray("shape");
                foreach (int d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += e.ByteLength;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int len = (int)buffer.Length;
        int padded = (len + 7) / 8 * 8;
        for (int i = len; i < padded; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static void WriteBody(Stream s, byte[] header, List<SafeTensorEntry> list)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        s.Write(prefix);
        s.Write(header);
        foreach (var e in list) e.WriteData(s);
    }

    /// <summary>Reads and validates the file at <paramref name="path"/>; <see cref="SafeTensorsFormatException"/> names the problem.</summary>
    public static SafeTensorsFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(fs, fs.Length, path);
    }

    /// <summary>Reads and validates a safetensors file held in memory (<paramref name="source"/> names it in errors).</summary>
    public static SafeTensorsFile Parse(byte[] bytes, string source = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var ms = new MemoryStream(bytes, writable: false);
        return Read(ms, bytes.Length, source);
    }

    private sealed record Info(string Name, SafeTensorDType DType, int[] Shape, long Begin, long End);

    private static SafeTensorsFile Read(Stream s, long length, string source)
    {
        SafeTensorsFormatException Fail(string problem, Exception? inner = null) => new(source, problem, inner);

        if (length < 8) throw Fail($"the file is {length} bytes long, shorter than the 8-byte header-length prefix");
        Span<byte> prefix = stackalloc byte[8];
        s.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > (ulong)(length - 8))
            throw Fail($"the header length {n} reaches beyond the end of the file ({length - 8} bytes follow the 8-byte prefix)");
        if (n > MaxHeaderLength) throw Fail($"the header length {n} exceeds the limit of {MaxHeaderLength} bytes");
        if (n < 2) throw Fail($"the header length {n} is too small for a JSON object");
        var header = new byte[n];
        s.ReadExactly(header);
        long dataLength = length - 8 - (long)n;

        var infos = new List<Info>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException ex)
        {
            throw Fail($"the header is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1} of the line; header byte offset counted from 8): {ex.Message}", ex);
        }
        using (doc)
        {
            try { ParseHeader(doc.RootElement, infos, metadata, Fail); }
            catch (InvalidOperationException ex) // a string that is not valid UTF-8
            { throw Fail($"the header holds text that is not valid UTF-8: {ex.Message}", ex); }
        }
        return ReadData(s, infos, metadata, dataLength, Fail);
    }

    private static void ParseHeader(JsonElement root, List<Info> infos, Dictionary<string, string> metadata, Func<string, Exception?, SafeTensorsFormatException> fail)
    {
        SafeTensorsFormatException Fail(string problem) => fail(problem, null);
        if (root.ValueKind != JsonValueKind.Object) throw Fail($"the header must be a JSON object, found {root.ValueKind}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prop in root.EnumerateObject())
        {
            if (!seen.Add(prop.Name)) throw Fail($"the header names '{prop.Name}' twice");
            if (prop.Name == MetadataKey)
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw Fail($"'{MetadataKey}' must be an object of strings, found {prop.Value.ValueKind}");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw Fail($"'{MetadataKey}' entry '{m.Name}' must be a string, found {m.Value.ValueKind}");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            infos.Add(ParseInfo(prop, fail));
        }
    }

    private static SafeTensorsFile ReadData(Stream s, List<Info> infos, Dictionary<string, string> metadata, long dataLength,
        Func<string, Exception?, SafeTensorsFormatException> fail)
    {
        SafeTensorsFormatException Fail(string problem) => fail(problem, null);
        // offsets: in range, consistent with shapes, packed without overlap or gap
        var sorted = infos.OrderBy(i => i.Begin).ThenBy(i => i.End).ToList();
        long expect = 0;
        Info? prev = null;
        foreach (var info in sorted)
        {
            if (info.Begin < expect)
                throw Fail($"the data of '{info.Name}' [{info.Begin}, {info.End}) overlaps the data of '{prev!.Name}' [{prev.Begin}, {prev.End})");
            if (info.Begin > expect)
                throw Fail($"gap in the data section: bytes [{expect}, {info.Begin}) before '{info.Name}' belong to no tensor");
            if (info.End > dataLength)
                throw Fail($"the data of '{info.Name}' [{info.Begin}, {info.End}) reaches beyond the end of the file: the data section holds only {dataLength} bytes (truncated file?)");
            expect = info.End;
            prev = info;
        }
        if (expect != dataLength)
            throw Fail($"{dataLength - expect} bytes after the last tensor's data (offset {expect}) belong to no tensor");

        var entries = new List<SafeTensorEntry>(sorted.Count);
        foreach (var info in sorted)
        {
            if (info.DType == SafeTensorDType.F32) entries.Add(SafeTensorEntry.From(info.Name, ReadTensor<float>(s, info.Shape)));
            else entries.Add(SafeTensorEntry.From(info.Name, ReadTensor<double>(s, info.Shape)));
        }
        return new SafeTensorsFile(entries, metadata);
    }

    private static Info ParseInfo(JsonProperty prop, Func<string, Exception?, SafeTensorsFormatException> fail)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw fail($"entry '{name}' must be an object, found {v.ValueKind}", null);
        if (!v.TryGetProperty("dtype", out var dt)) throw fail($"tensor '{name}' has no \"dtype\"", null);
        if (!v.TryGetProperty("shape", out var sh)) throw fail($"tensor '{name}' has no \"shape\"", null);
        if (!v.TryGetProperty("data_offsets", out var off)) throw fail($"tensor '{name}' has no \"data_offsets\"", null);
        if (dt.ValueKind != JsonValueKind.String) throw fail($"tensor '{name}': \"dtype\" must be a string, found {dt.ValueKind}", null);
        string dts = dt.GetString()!;
        SafeTensorDType dtype = dts switch
        {
            "F32" => SafeTensorDType.F32,
            "F64" => SafeTensorDType.F64,
            "BOOL" or "U8" or "I8" or "I16" or "U16" or "F16" or "BF16" or "I32" or "U32" or "I64" or "U64" or "F8_E4M3" or "F8_E5M2"
                => throw fail($"tensor '{name}' has dtype \"{dts}\", which this library does not support (F32 and F64 are)", null),
            _ => throw fail($"tensor '{name}' has unknown dtype \"{dts}\"", null),
        };
        if (sh.ValueKind != JsonValueKind.Array) throw fail($"tensor '{name}': \"shape\" must be an array, found {sh.ValueKind}", null);
        var shape = new int[sh.GetArrayLength()];
        long elements = 1;
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw fail($"tensor '{name}': shape entry {k} ({d.GetRawText()}) is not a non-negative integer", null);
            if (dim > int.MaxValue) throw fail($"tensor '{name}': dimension {dim} is too large", null);
            shape[k++] = (int)dim;
            elements = elements == 0 || dim == 0 ? 0 : elements * dim;
            if (elements > int.MaxValue) throw fail($"tensor '{name}' has more than 2^31 elements", null);
        }
        if (off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw fail($"tensor '{name}': \"data_offsets\" must be an array of two integers, found {off.GetRawText()}", null);
        long begin = 0, end = 0;
        int idx = 0;
        foreach (var o in off.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out long val) || val < 0)
                throw fail($"tensor '{name}': data_offsets entry {idx} ({o.GetRawText()}) is not a non-negative integer (offset out of range)", null);
            if (idx++ == 0) begin = val; else end = val;
        }
        if (end < begin) throw fail($"tensor '{name}': data_offsets [{begin}, {end}] are out of range (end before begin)", null);
        long need = elements * SafeTensorEntry.ElementSize(dtype);
        if (end - begin != need)
            throw fail($"tensor '{name}': shape {Tensor<float>.FormatShape(shape)} of {dtype} needs {need} bytes but data_offsets [{begin}, {end}] span {end - begin}", null);
        return new Info(name, dtype, shape, begin, end);
    }

    private static Tensor<T> ReadTensor<T>(Stream s, int[] shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var t = Tensor<T>.Empty(shape).Untrack();
        var bytes = MemoryMarshal.AsBytes(t.Span);
        s.ReadExactly(bytes);
        if (!BitConverter.IsLittleEndian) SwapElements(bytes, System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        return t;
    }

    internal static void SwapElements(Span<byte> bytes, int size)
    {
        for (int i = 0; i + size <= bytes.Length; i += size) bytes.Slice(i, size).Reverse();
    }
}
