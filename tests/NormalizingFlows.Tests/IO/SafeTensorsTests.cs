using System.Buffers.Binary;
using System.Text;
using NormalizingFlows.IO;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Tests.IO;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nf-safetensors-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static byte[] FileBytes(string json, byte[] data, bool pad = true)
    {
        var h = Encoding.UTF8.GetBytes(json).ToList();
        while (pad && h.Count % 8 != 0) h.Add((byte)' ');
        var bytes = new byte[8 + h.Count + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Count);
        h.ToArray().CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Count);
        return bytes;
    }

    private static byte[] FloatBytes(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    [Fact]
    public void RoundTrip_IsBitExact_ForFloatAndDouble_WithMetadataEmptyAndScalar()
    {
        float[] special = [0f, -0f, 1.5f, float.Epsilon, float.MaxValue, float.NegativeInfinity, BitConverter.Int32BitsToSingle(0x7fc01234), -3.25e-20f];
        var f = Tensor<float>.From(special, 2, 4);
        var d = Tensor<double>.From([Math.PI, -0.0, double.Epsilon, BitConverter.Int64BitsToDouble(0x7ff8000000abcdefL), 1e300, -7], 3, 1, 2);
        var empty = Tensor<float>.Zeros(3, 0);
        var scalar = Tensor<double>.Scalar(42.5);
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcødé \"quoted\"\n" };
        string path = PathOf("rt.safetensors");
        SafeTensors.Save(path, [SafeTensorEntry.From("f", f), SafeTensorEntry.From("d", d), SafeTensorEntry.From("empty", empty), SafeTensorEntry.From("scalar", scalar)], meta);

        var bytes = File.ReadAllBytes(path);
        Assert.Equal(0, (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes) % 8);
        var file = SafeTensors.Load(path);
        Assert.Equal(meta, file.Metadata);
        Assert.Equal(["f", "d", "empty", "scalar"], file.Tensors.Select(t => t.Name));
        var f2 = file.Get<float>("f");
        Assert.Equal([2, 4], f2.Shape.ToArray());
        Assert.Equal(special.Select(BitConverter.SingleToInt32Bits), f2.ToArray().Select(BitConverter.SingleToInt32Bits));
        var d2 = file.Get<double>("d");
        Assert.Equal([3, 1, 2], d2.Shape.ToArray());
        Assert.Equal(d.ToArray().Select(BitConverter.DoubleToInt64Bits), d2.ToArray().Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal([3, 0], file.Get<float>("empty").Shape.ToArray());
        var s2 = file.Get<double>("scalar");
        Assert.Equal(0, s2.Rank);
        Assert.Equal(42.5, s2[0]);
        Assert.Equal(SafeTensorDType.F64, file["scalar"].DType);

        // conversion only on request
        Assert.Throws<InvalidCastException>(() => file.Get<float>("d"));
        Assert.Equal((float)Math.PI, file.Get<float>("d", convert: true)[0]);
        Assert.Throws<KeyNotFoundException>(() => file["nope"]);
    }

    [Fact]
    public void Writer_MatchesAHandBuiltSpecFile_ByteForByte()
    {
        // what Python's safetensors writes for {"a": tensor([1., 2.], dtype=float32)} with metadata {"format": "pt"}:
        // compact JSON, header padded with spaces to a multiple of 8, little-endian data
        string json = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        var expected = FileBytes(json, FloatBytes(1f, 2f));
        Assert.Equal(85, json.Length);
        Assert.Equal(88, (int)BinaryPrimitives.ReadUInt64LittleEndian(expected)); // padded with 3 spaces
        Assert.Equal((byte)' ', expected[8 + 87]);
        var written = SafeTensors.Serialize([SafeTensorEntry.From("a", Tensor<float>.From([1f, 2f], 2))], new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Equal(expected, written);

        // two tensors of mixed dtype, header needing padding
        string json2 = "{\"w\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}}";
        var data2 = new byte[12];
        BinaryPrimitives.WriteDoubleLittleEndian(data2, -0.5);
        BinaryPrimitives.WriteSingleLittleEndian(data2.AsSpan(8), 3f);
        var expected2 = FileBytes(json2, data2);
        Assert.Equal(112, (int)BinaryPrimitives.ReadUInt64LittleEndian(expected2));
        var written2 = SafeTensors.Serialize([SafeTensorEntry.From("w", Tensor<double>.From([-0.5], 1, 1)), SafeTensorEntry.From("b", Tensor<float>.Scalar(3f))]);
        Assert.Equal(expected2, written2);
    }

    [Fact]
    public void Reader_AcceptsForeignLayouts_OutOfOrderEntries()
    {
        // entries listed in another order than their data, metadata last, extra whitespace: all legal
        string json = "{ \"b\": {\"shape\": [1], \"dtype\": \"F32\", \"data_offsets\": [4, 8]},\n \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"__metadata__\": {\"k\": \"v\"} }";
        var file = SafeTensors.Parse(FileBytes(json, FloatBytes(1f, 2f)));
        Assert.Equal(1f, file.Get<float>("a")[0]);
        Assert.Equal(2f, file.Get<float>("b")[0]);
        Assert.Equal("v", file.Metadata["k"]);
        Assert.Equal(["a", "b"], file.Tensors.Select(t => t.Name));
    }

    public static TheoryData<string, string> CorruptCases => new()
    {
        { "short", "shorter than the 8-byte header-length prefix" },
        { "header-too-long", "reaches beyond the end of the file" },
        { "bad-json", "not valid JSON (line 1" },
        { "not-object", "must be a JSON object" },
        { "no-dtype", "tensor 'a' has no \"dtype\"" },
        { "no-shape", "tensor 'a' has no \"shape\"" },
        { "no-offsets", "tensor 'a' has no \"data_offsets\"" },
        { "unknown-dtype", "unknown dtype \"F33\"" },
        { "unsupported-dtype", "dtype \"I64\", which this library does not support" },
        { "size-mismatch", "needs 8 bytes but data_offsets [0, 4] span 4" },
        { "reversed-offsets", "out of range (end before begin)" },
        { "negative-offset", "is not a non-negative integer (offset out of range)" },
        { "negative-dim", "shape entry 0 (-2) is not a non-negative integer" },
        { "overlap", "overlaps the data of 'a'" },
        { "gap", "gap in the data section" },
        { "truncated", "reaches beyond the end of the file: the data section holds only 6 bytes (truncated file?)" },
        { "trailing", "4 bytes after the last tensor's data" },
        { "bad-metadata", "'__metadata__' entry 'n' must be a string" },
        { "duplicate", "names 'a' twice" },
    };

    [Theory]
    [MemberData(nameof(CorruptCases))]
    public void Reader_RejectsCorruptFiles_WithSpecificMessages(string kind, string expected)
    {
        const string ok = "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]";
        var data = FloatBytes(1f, 2f);
        byte[] bytes = kind switch
        {
            "short" => [1, 2, 3, 4, 5],
            "header-too-long" => BitConverter.GetBytes(1000UL).Concat(new byte[20]).ToArray(),
            "bad-json" => FileBytes("{\"a\": {" + ok + "}", data),
            "not-object" => FileBytes("[1, 2]", data),
            "no-dtype" => FileBytes("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data),
            "no-shape" => FileBytes("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data),
            "no-offsets" => FileBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", data),
            "unknown-dtype" => FileBytes("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", data),
            "unsupported-dtype" => FileBytes("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data),
            "size-mismatch" => FileBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data),
            "reversed-offsets" => FileBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", data),
            "negative-offset" => FileBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", data),
            "negative-dim" => FileBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data),
            "overlap" => FileBytes("{\"a\":{" + ok + "},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data),
            "gap" => FileBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data),
            "truncated" => FileBytes("{\"a\":{" + ok + "}}", data)[..^2],
            "trailing" => FileBytes("{\"a\":{" + ok + "}}", FloatBytes(1f, 2f, 3f)),
            "bad-metadata" => FileBytes("{\"__metadata__\":{\"n\":1},\"a\":{" + ok + "}}", data),
            "duplicate" => FileBytes("{\"a\":{" + ok + "},\"a\":{" + ok + "}}", data),
            _ => throw new ArgumentException(kind),
        };
        string path = PathOf(kind + ".safetensors");
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Load(path));
        Assert.Contains(expected, ex.Message);
        Assert.Contains(path, ex.Message);
        Assert.Equal(path, ex.FilePath);
        Assert.IsAssignableFrom<IOException>(ex);
    }

    [Fact]
    public void InvalidJson_ReportsThePosition()
    {
        var ex = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Parse(FileBytes("{\"a\":\n  {\"dtype\" \"F32\"}}", [])));
        Assert.Contains("line 2", ex.Message);
        Assert.NotNull(ex.InnerException);
    }

    [Fact]
    public void Save_IsAtomic_AFailedWriteLeavesTheOldFileIntact()
    {
        string path = PathOf("model.safetensors");
        var good = Tensor<float>.From([1f, 2f, 3f], 3);
        SafeTensors.Save(path, [new KeyValuePair<string, Tensor<float>>("w", good)]);
        var before = File.ReadAllBytes(path);

        var first = Tensor<float>.Full(7f, 1000);
        var broken = Tensor<float>.Full(9f, 1000);
        broken.Dispose(); // its data cannot be read: the write fails after the header and the first tensor
        Assert.Throws<ObjectDisposedException>(() => SafeTensors.Save(path,
            [new KeyValuePair<string, Tensor<float>>("a", first), new KeyValuePair<string, Tensor<float>>("b", broken)]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([1f, 2f, 3f], SafeTensors.Load(path).Get<float>("w").ToArray());
        Assert.Equal(["model.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName)); // no temp file left

        // a successful save replaces it
        SafeTensors.Save(path, [new KeyValuePair<string, Tensor<float>>("a", first)]);
        Assert.Equal(1000, SafeTensors.Load(path).Get<float>("a").Length);
    }

    [Fact]
    public void Writer_RejectsBadNames()
    {
        var t = Tensor<float>.Zeros(1);
        Assert.Throws<ArgumentException>(() => SafeTensors.Serialize([SafeTensorEntry.From("x", t), SafeTensorEntry.From("x", t)]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Serialize([SafeTensorEntry.From("__metadata__", t)]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Serialize([SafeTensorEntry.From("", t)]));
    }

    [Fact]
    public void LoadedTensors_SurviveTheScopeTheyWereLoadedIn()
    {
        var bytes = SafeTensors.Serialize([SafeTensorEntry.From("a", Tensor<double>.From([1.0, 2.0], 2))]);
        SafeTensorsFile file;
        using (TensorScope.Begin()) file = SafeTensors.Parse(bytes);
        Assert.Equal([1.0, 2.0], file.Get<double>("a").ToArray());
    }
}
