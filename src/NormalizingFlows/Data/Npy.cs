using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using NormalizingFlows.IO;

namespace NormalizingFlows.Data;

/// <summary>
/// NumPy's .npy format (versions 1–3): float32/float64 and int32/int64 arrays of rank 1 or 2, either byte order,
/// C or Fortran order; written as little-endian C-order float32 or float64, atomically.
/// </summary>
public static partial class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>
    /// Reads a rank-1 ([n] → n×1) or rank-2 array as a table with columns x0, x1, …. A non-finite value (NaN, ±∞) is
    /// an error naming the file, its row and column (counted from 0, as NumPy indexes); with
    /// <paramref name="dropInvalid"/> such rows are dropped and counted instead (<see cref="Table.DroppedRows"/>).
    /// </summary>
    public static Table Read(string path, bool dropInvalid = false)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new DataFormatException(path, "file not found"); }
        return Parse(bytes, path, dropInvalid);
    }

    /// <summary>Parses .npy bytes (<paramref name="source"/> names them in errors); non-finite values as in <see cref="Read"/>.</summary>
    public static Table Parse(byte[] bytes, string source = "<memory>", bool dropInvalid = false)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var h = ParseHeader(bytes, bytes.Length, source);
        var values = new double[h.Rows * h.Cols];
        Convert(h, bytes.AsSpan((int)h.DataStart, (int)(h.Count * h.Size)), 0, values.AsSpan());
        return FiniteRows.ToTable(Table.DefaultNames((int)h.Cols), values, (int)h.Rows, source, dropInvalid,
            (r, j, v) => NotFinite(source, r, j, v.ToString(CultureInfo.InvariantCulture)));
    }

    private static DataFormatException NotFinite(string source, long row, long col, string value) =>
        new(source, $"row {row}, column x{col} (counting from 0, as NumPy indexes) is {value}: values must be finite");

    /// <summary>
    /// Reads a rank-1 ([n] → n×1) or rank-2 array straight into a [rows, cols] tensor of <typeparamref name="T"/>,
    /// streaming the file in blocks: memory is the tensor alone (no byte copy of the file, no double table), which
    /// matters for large event files. The tensor is untracked (not owned by a <see cref="Tensors.TensorScope"/>).
    /// </summary>
    public static Tensors.Tensor<T> ReadTensor<T>(string path) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        FileStream fs;
        try { fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (FileNotFoundException) { throw new DataFormatException(path, "file not found"); }
        using (fs)
        {
            var head = new byte[(int)Math.Min(fs.Length, 1 << 16)];
            fs.ReadExactly(head);
            var h = ParseHeader(head, fs.Length, path);
            var tensor = Tensors.Tensor<T>.Empty((int)h.Rows, (int)h.Cols).Untrack();
            var dst = tensor.Span;
            fs.Position = h.DataStart;
            var buf = new byte[(1 << 20) / h.Size * h.Size];
            long done = 0;
            while (done < h.Count)
            {
                int take = (int)Math.Min(buf.Length / h.Size, h.Count - done);
                fs.ReadExactly(buf, 0, take * h.Size);
                Convert(h, buf.AsSpan(0, take * h.Size), done, dst);
                done += take;
            }
            for (int i = 0; i < dst.Length; i++)
                if (!T.IsFinite(dst[i]))
                    throw NotFinite(path, i / h.Cols, i % h.Cols, double.CreateTruncating(dst[i]).ToString(CultureInfo.InvariantCulture) + (typeof(T) == typeof(float) ? " as float32 (not finite, or beyond the float32 range)" : ""));
            return tensor;
        }
    }

    private readonly record struct Header(string Kind, int Size, bool BigEndian, long Rows, long Cols, bool Fortran, long DataStart)
    {
        public long Count => Rows * Cols;
    }

    /// <summary>Validates the header at the start of <paramref name="head"/> for a file of <paramref name="fileLength"/> bytes.</summary>
    private static Header ParseHeader(byte[] head, long fileLength, string source)
    {
        if (head.Length < 10 || !head.AsSpan(0, 6).SequenceEqual(Magic))
            throw new DataFormatException(source, "not a .npy file (the magic string \\x93NUMPY is missing)");
        int major = head[6];
        int headerLen, offset;
        if (major == 1) { headerLen = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(8)); offset = 10; }
        else if (major is 2 or 3)
        {
            if (head.Length < 12) throw new DataFormatException(source, "truncated header");
            long len = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(8));
            if (len > int.MaxValue) throw new DataFormatException(source, "header too long");
            headerLen = (int)len; offset = 12;
        }
        else throw new DataFormatException(source, $"unsupported .npy version {major}.{head[7]}");
        if (offset + headerLen > fileLength) throw new DataFormatException(source, $"header of {headerLen} bytes runs past the end of the file ({fileLength} bytes)");
        if (offset + headerLen > head.Length) throw new DataFormatException(source, $"header of {headerLen} bytes is too long");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(head, offset, headerLen);
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
        var parts = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var dims = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            // Python 2 wrote long integers with an 'L' suffix
            string t = parts[i].EndsWith('L') ? parts[i][..^1] : parts[i];
            if (!long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long dim))
                throw new DataFormatException(source, $"shape ({shape.Groups[1].Value.Trim()}): '{parts[i]}' is not an integer dimension");
            if (dim < 0) throw new DataFormatException(source, $"shape ({shape.Groups[1].Value.Trim()}) has a negative dimension {dim}");
            if (dim > int.MaxValue) throw new DataFormatException(source, $"shape ({shape.Groups[1].Value.Trim()}): dimension {dim} is too large (at most {int.MaxValue})");
            dims[i] = dim;
        }
        if (dims.Length is 0 or > 2) throw new DataFormatException(source, $"array of rank {dims.Length}; a table needs rank 1 or 2");
        long rows = dims[0], cols = dims.Length == 2 ? dims[1] : 1;
        if (cols == 0 && rows > 0) throw new DataFormatException(source, $"shape ({rows}, 0) has rows but no columns");
        long count = rows * cols; // both ≤ 2^31 − 1: no overflow
        long dataStart = offset + headerLen;
        if (count > int.MaxValue) throw new DataFormatException(source, $"array of {count} elements is too large");
        if (dataStart + count * size > fileLength)
            throw new DataFormatException(source, $"truncated: shape ({rows}, {cols}) needs {count * size} bytes of data, the file has {fileLength - dataStart}");
        return new Header(kind, size, bigEndian, rows, cols, fortran.Groups[1].Value == "True", dataStart);
    }

    /// <summary>Converts the raw elements in <paramref name="data"/> (element index <paramref name="first"/> onwards, file order) into the C-order destination.</summary>
    private static void Convert<T>(in Header h, ReadOnlySpan<byte> data, long first, Span<T> values) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        int size = h.Size, n = data.Length / size;
        if (!h.Fortran && !h.BigEndian && h.Kind == "f4" && typeof(T) == typeof(float))
        {
            // the common case (numpy's default float32 layout on a little-endian machine): a straight copy
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data[..(n * 4)])
                .CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(values.Slice((int)first, n)));
            return;
        }
        // the element type is decided once per block, not per element
        int kind = h.Kind switch { "f4" => 0, "f8" => 1, "i4" => 2, _ => 3 };
        bool be = h.BigEndian;
        long rows = h.Rows, cols = h.Cols;
        for (int i = 0; i < n; i++)
        {
            var b = data.Slice(i * size, size);
            double v = kind switch
            {
                0 => be ? BinaryPrimitives.ReadSingleBigEndian(b) : BinaryPrimitives.ReadSingleLittleEndian(b),
                1 => be ? BinaryPrimitives.ReadDoubleBigEndian(b) : BinaryPrimitives.ReadDoubleLittleEndian(b),
                2 => be ? BinaryPrimitives.ReadInt32BigEndian(b) : BinaryPrimitives.ReadInt32LittleEndian(b),
                _ => be ? BinaryPrimitives.ReadInt64BigEndian(b) : BinaryPrimitives.ReadInt64LittleEndian(b),
            };
            long e = first + i;
            values[(int)(h.Fortran ? (e % rows) * cols + e / rows : e)] = T.CreateTruncating(v);
        }
    }

    /// <summary>Writes a [rows, cols] table as little-endian C-order float32 (or float64), atomically.</summary>
    public static void Write(string path, Table table, bool float64 = false)
    {
        ArgumentNullException.ThrowIfNull(table);
        var head = HeaderBytes(table.Rows, table.Cols, float64);
        AtomicFile.Write(path, fs =>
        {
            fs.Write(head);
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

    /// <summary>The .npy (version 1.0) header of a little-endian float32 (or float64) C-order array of shape (<paramref name="rows"/>, <paramref name="cols"/>), padded to 64 bytes.</summary>
    internal static byte[] HeaderBytes(long rows, long cols, bool float64)
    {
        string header = FormattableString.Invariant($"{{'descr': '<{(float64 ? "f8" : "f4")}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        int total = 10 + header.Length + 1;
        header = header + new string(' ', (64 - total % 64) % 64) + "\n";
        var bytes = new byte[10 + header.Length];
        Magic.CopyTo(bytes);
        bytes[6] = 1; bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.Latin1.GetBytes(header).CopyTo(bytes, 10);
        return bytes;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
