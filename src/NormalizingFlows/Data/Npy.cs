using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using NormalizingFlows.Serialization;

namespace NormalizingFlows.Data;

/// <summary>
/// NumPy's .npy format (versions 1–3): float32/float64 and int32/int64 arrays of rank 1 or 2, either byte order,
/// C or Fortran order; written as little-endian C-order float32 or float64, atomically.
/// </summary>
public static partial class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a rank-1 ([n] → n×1) or rank-2 array as a table with columns x0, x1, ….</summary>
    public static Table Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new DataFormatException(path, "file not found"); }
        return Parse(bytes, path);
    }

    /// <summary>Parses .npy bytes (<paramref name="source"/> names them in errors).</summary>
    public static Table Parse(byte[] bytes, string source = "<memory>")
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new DataFormatException(source, "not a .npy file (the magic string \\x93NUMPY is missing)");
        int major = bytes[6];
        int headerLen, offset;
        if (major == 1) { headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); offset = 10; }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12) throw new DataFormatException(source, "truncated header");
            long len = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            if (len > int.MaxValue) throw new DataFormatException(source, "header too long");
            headerLen = (int)len; offset = 12;
        }
        else throw new DataFormatException(source, $"unsupported .npy version {major}.{bytes[7]}");
        if (offset + headerLen > bytes.Length) throw new DataFormatException(source, $"header of {headerLen} bytes runs past the end of the file ({bytes.Length} bytes)");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, offset, headerLen);
        var descr = DescrRegex().Match(header);
        var fortran = FortranRegex().Match(header);
        var shape = ShapeRegex().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
            throw new DataFormatException(source, $"malformed header: {header.Trim()}");
        string d = descr.Groups[1].Value;
        bool bigEndian = d[0] == '>';
        string kind = d.TrimStart('<', '>', '|', '=');
        int size = kind switch { "f4" or "i4" => 4, "f8" or "i8" => 8, _ => 0 };
        if (size == 0) throw new DataFormatException(source, $"unsupported dtype '{d}' (supported: float32, float64, int32, int64)");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (dims.Length is 0 or > 2) throw new DataFormatException(source, $"array of rank {dims.Length}; a table needs rank 1 or 2");
        long rows = dims[0], cols = dims.Length == 2 ? dims[1] : 1;
        long count = rows * cols;
        long dataStart = offset + headerLen;
        if (count > int.MaxValue) throw new DataFormatException(source, $"array of {count} elements is too large");
        if (dataStart + count * size > bytes.Length)
            throw new DataFormatException(source, $"truncated: shape ({rows}, {cols}) needs {count * size} bytes of data, the file has {bytes.Length - dataStart}");
        bool isFortran = fortran.Groups[1].Value == "True";
        var values = new double[count];
        var data = bytes.AsSpan((int)dataStart);
        for (long i = 0; i < count; i++)
        {
            var b = data.Slice((int)(i * size), size);
            double v = kind switch
            {
                "f4" => bigEndian ? BinaryPrimitives.ReadSingleBigEndian(b) : BinaryPrimitives.ReadSingleLittleEndian(b),
                "f8" => bigEndian ? BinaryPrimitives.ReadDoubleBigEndian(b) : BinaryPrimitives.ReadDoubleLittleEndian(b),
                "i4" => bigEndian ? BinaryPrimitives.ReadInt32BigEndian(b) : BinaryPrimitives.ReadInt32LittleEndian(b),
                _ => bigEndian ? BinaryPrimitives.ReadInt64BigEndian(b) : BinaryPrimitives.ReadInt64LittleEndian(b),
            };
            long target = isFortran ? (i % rows) * cols + i / rows : i;
            values[target] = v;
        }
        return new Table(Table.DefaultNames((int)cols), values, (int)rows);
    }

    /// <summary>Writes a [rows, cols] table as little-endian C-order float32 (or float64), atomically.</summary>
    public static void Write(string path, Table table, bool float64 = false)
    {
        ArgumentNullException.ThrowIfNull(table);
        string header = $"{{'descr': '<{(float64 ? "f8" : "f4")}', 'fortran_order': False, 'shape': ({table.Rows}, {table.Cols}), }}";
        int total = 10 + header.Length + 1;
        int pad = (64 - total % 64) % 64;
        header = header + new string(' ', pad) + "\n";
        AtomicFile.Write(path, fs =>
        {
            var head = new byte[10];
            Magic.CopyTo(head);
            head[6] = 1; head[7] = 0;
            BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(8), (ushort)header.Length);
            fs.Write(head);
            fs.Write(Encoding.Latin1.GetBytes(header));
            int size = float64 ? 8 : 4;
            var buf = new byte[Math.Max(size, Math.Min(1 << 16, table.Values.Length * size))];
            int used = 0;
            foreach (double v in table.Values)
            {
                if (float64) BinaryPrimitives.WriteDoubleLittleEndian(buf.AsSpan(used), v);
                else BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(used), (float)v);
                used += size;
                if (used + size > buf.Length) { fs.Write(buf, 0, used); used = 0; }
            }
            fs.Write(buf, 0, used);
        });
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
