using System.Buffers.Binary;
using System.Text;
using NormalizingFlows.Data;
using NormalizingFlows.IO;

namespace NormalizingFlows.Tests.Data;

public class DataIoTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nflow-data-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);
    private string P(string name) => Path.Combine(_dir, name);

    private static Table ReadCsv(string text, bool drop = false) => Csv.Read(new StringReader(text), "t.csv", drop);

    [Fact]
    public void CsvWithHeaderCommentsAndWhitespace()
    {
        var t = ReadCsv("# generated\n a , b \n1,2\n\n3.5,-4e-3 # trailing\n");
        Assert.Equal(["a", "b"], t.Columns);
        Assert.Equal(2, t.Rows);
        Assert.Equal(-4e-3, t[1, 1]);
        var w = ReadCsv("x y z\n1 2 3\n4\t5  6\n");
        Assert.Equal(3, w.Cols);
        Assert.Equal(6, w[1, 2]);
        var headerless = ReadCsv("1,2\n3,4\n");
        Assert.Equal(["x0", "x1"], headerless.Columns);
        Assert.Equal(2, headerless.Rows);
    }

    [Theory]
    [InlineData("a,b\n1,2\n3,abc\n", "t.csv:3:2: 'abc' in column 'b' is not a number")]
    [InlineData("a,b\n1,2\n3\n", "t.csv:3: row has 1 fields; the header has 2")]
    [InlineData("a,b\n1,nan\n", "t.csv:2:2: value 'nan' in column 'b' is not finite")]
    [InlineData("a,b\n1,Infinity\n", "t.csv:2:2: value 'Infinity' in column 'b' is not finite")]
    [InlineData("", "t.csv: empty file: no header and no rows")]
    [InlineData("# only a comment\n", "t.csv: empty file: no header and no rows")]
    [InlineData("a,b\n", "t.csv: no data rows after the header")]
    [InlineData("a,a\n1,2\n", "t.csv:1: column name 'a' appears twice in the header")]
    public void CsvErrorsNameFileLineAndColumn(string text, string message)
    {
        var ex = Assert.Throws<DataFormatException>(() => ReadCsv(text));
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void DropInvalidCountsDroppedRows()
    {
        var t = ReadCsv("a,b\n1,2\n3,x\n5\n7,nan\n9,10\n", drop: true);
        Assert.Equal(2, t.Rows);
        Assert.Equal(3, t.DroppedRows);
        Assert.Equal(10, t[1, 1]);
        Assert.Contains("all 1 were dropped", Assert.Throws<DataFormatException>(() => ReadCsv("a\nq\n", drop: true)).Message);
    }

    [Fact]
    public void ColumnSelectionPicksRenamesAndExplains()
    {
        var t = ReadCsv("pt,eta,phi\n1,2,3\n4,5,6\n").SelectColumns("phi, y=pt");
        Assert.Equal(["phi", "y"], t.Columns);
        Assert.Equal([3.0, 1.0, 6.0, 4.0], t.Values);
        var ex = Assert.Throws<ArgumentException>(() => ReadCsv("pt,eta\n1,2\n").SelectColumns("m"));
        Assert.Contains("no column 'm'; the columns are: pt, eta", ex.Message);
    }

    [Fact]
    public void ColumnSelectionByNamesTakesNamesLiterally()
    {
        // names the spec parser would read as a rename ("a=b") or an index ("0") are picked as they are
        var t = new Table(["a=b", "0", "b"], [1, 2, 3, 4, 5, 6], 2);
        var picked = t.SelectColumns(["b", "a=b", "0"]);
        Assert.Equal(["b", "a=b", "0"], picked.Columns);
        Assert.Equal([3.0, 1.0, 2.0, 6.0, 4.0, 5.0], picked.Values);
        Assert.Equal([3.0, 6.0], t.SelectColumns("a=b").Values); // the spec form reads it as column b renamed a: why callers with names use the list form
        Assert.Contains("no column 'c'", Assert.Throws<ArgumentException>(() => t.SelectColumns(["c"])).Message);
    }

    [Fact]
    public void CsvRoundTripIsExact()
    {
        var t = new Table(["a", "b"], [0.1, -1e-300, 1.0 / 3, 12345.678], 2);
        Csv.Write(P("t.csv"), t);
        var back = Csv.Read(P("t.csv"));
        Assert.Equal(t.Values, back.Values);
        Assert.Equal(t.Columns, back.Columns);
        Assert.Contains("file not found", Assert.Throws<DataFormatException>(() => Csv.Read(P("missing.csv"))).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NpyRoundTrip(bool float64)
    {
        var t = new Table(["x0", "x1", "x2"], [1, 2.5, -3, 4e-3, 5, 6], 2);
        Npy.Write(P("t.npy"), t, float64);
        var bytes = File.ReadAllBytes(P("t.npy"));
        Assert.Equal(0, (10 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8))) % 64); // header aligned as numpy does
        var back = Npy.Read(P("t.npy"));
        Assert.Equal(2, back.Rows);
        Assert.Equal(3, back.Cols);
        for (int i = 0; i < 6; i++) Assert.Equal(float64 ? t.Values[i] : (float)t.Values[i], back.Values[i]);
    }

    private static byte[] NpyBytes(string descr, string shape, bool fortran, byte[] data, int version = 1)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}\n";
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)version, 0]);
        if (version == 1) { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)header.Length); ms.Write(b); }
        else { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)header.Length); ms.Write(b); }
        ms.Write(Encoding.Latin1.GetBytes(header));
        ms.Write(data);
        return ms.ToArray();
    }

    [Fact]
    public void NpyReadsOtherLayouts()
    {
        // big-endian float64, Fortran order [[1, 2, 3], [4, 5, 6]] stored column by column
        var data = new byte[48];
        double[] colMajor = [1, 4, 2, 5, 3, 6];
        for (int i = 0; i < 6; i++) BinaryPrimitives.WriteDoubleBigEndian(data.AsSpan(i * 8), colMajor[i]);
        var t = Npy.Parse(NpyBytes(">f8", "(2, 3)", true, data, version: 2));
        Assert.Equal([1.0, 2, 3, 4, 5, 6], t.Values);
        var ints = new byte[12];
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteInt32LittleEndian(ints.AsSpan(i * 4), i * 7);
        var v = Npy.Parse(NpyBytes("<i4", "(3,)", false, ints));
        Assert.Equal(3, v.Rows);
        Assert.Equal(1, v.Cols);
        Assert.Equal(14, v[2, 0]);
    }

    [Fact]
    public void NpyReadTensorStreamsEveryLayout()
    {
        // a large C-order float32 file crossing the 1 MiB streaming blocks, read as float and as double
        int rows = 70_000, cols = 5;
        var values = new double[rows * cols];
        for (int i = 0; i < values.Length; i++) values[i] = Math.Sin(i * 0.37) * 100;
        Npy.Write(P("big.npy"), new Table(Table.DefaultNames(cols), values, rows));
        var f = Npy.ReadTensor<float>(P("big.npy"));
        var d = Npy.ReadTensor<double>(P("big.npy"));
        Assert.Equal(rows, f.Dim(0));
        Assert.Equal(cols, f.Dim(1));
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal((float)values[i], f.ReadOnlySpan[i]);
            Assert.Equal((double)(float)values[i], d.ReadOnlySpan[i]);
        }
        // big-endian float64 in Fortran order, and a rank-1 int32 array
        var data = new byte[48];
        double[] colMajor = [1, 4, 2, 5, 3, 6];
        for (int i = 0; i < 6; i++) BinaryPrimitives.WriteDoubleBigEndian(data.AsSpan(i * 8), colMajor[i]);
        File.WriteAllBytes(P("f.npy"), NpyBytes(">f8", "(2, 3)", true, data, version: 2));
        Assert.Equal([1.0, 2, 3, 4, 5, 6], Npy.ReadTensor<double>(P("f.npy")).ToDoubleArray());
        var ints = new byte[12];
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteInt32LittleEndian(ints.AsSpan(i * 4), i * 7);
        File.WriteAllBytes(P("i.npy"), NpyBytes("<i4", "(3,)", false, ints));
        var v = Npy.ReadTensor<float>(P("i.npy"));
        Assert.Equal(new[] { 3, 1 }, new[] { v.Dim(0), v.Dim(1) });
        Assert.Equal(14f, v.ReadOnlySpan[2]);
        // errors name the file: truncated data, missing file
        File.WriteAllBytes(P("t.npy"), NpyBytes("<f4", "(10, 2)", false, new byte[40]));
        var ex = Assert.Throws<DataFormatException>(() => Npy.ReadTensor<float>(P("t.npy")));
        Assert.Contains("truncated", ex.Message);
        Assert.Contains("t.npy", ex.Message);
        Assert.Contains("not found", Assert.Throws<DataFormatException>(() => Npy.ReadTensor<float>(P("missing.npy"))).Message);
    }

    [Theory]
    [InlineData("bad magic")]
    [InlineData("truncated")]
    [InlineData("dtype")]
    [InlineData("rank")]
    public void NpyErrorsAreSpecific(string kind)
    {
        byte[] bytes = kind switch
        {
            "bad magic" => Encoding.ASCII.GetBytes("not numpy at all"),
            "truncated" => NpyBytes("<f4", "(10, 2)", false, new byte[40]),
            "dtype" => NpyBytes("<c16", "(1, 1)", false, new byte[16]),
            _ => NpyBytes("<f4", "(2, 2, 2)", false, new byte[32]),
        };
        var ex = Assert.Throws<DataFormatException>(() => Npy.Parse(bytes, "x.npy"));
        Assert.StartsWith("x.npy: ", ex.Message);
        Assert.Contains(kind switch { "bad magic" => "magic", "truncated" => "truncated", "dtype" => "unsupported dtype '<c16'", _ => "rank 3" }, ex.Message);
    }

    [Theory]
    [InlineData("(-3, 2)", "negative dimension -3")]
    [InlineData("(3, -2)", "negative dimension -2")]
    [InlineData("(-1,)", "negative dimension -1")]
    [InlineData("(99999999999999999999, 2)", "'99999999999999999999' is not an integer dimension")]
    [InlineData("(3, two)", "'two' is not an integer dimension")]
    [InlineData("(4294967296, 4294967296)", "dimension 4294967296 is too large")]
    [InlineData("(2147483647, 2147483647)", "too large")]
    [InlineData("(5, 0)", "has rows but no columns")]
    public void NpyBadShapesAreNamedErrors(string shape, string message)
    {
        var bytes = NpyBytes("<f4", shape, false, new byte[24]);
        var ex = Assert.Throws<DataFormatException>(() => Npy.Parse(bytes, "s.npy"));
        Assert.StartsWith("s.npy: ", ex.Message);
        Assert.Contains(message, ex.Message);
        File.WriteAllBytes(P("s.npy"), bytes);
        Assert.Contains(message, Assert.Throws<DataFormatException>(() => Npy.ReadTensor<float>(P("s.npy"))).Message);
    }

    [Fact]
    public void NpyNonFiniteValuesNameTheFileRowAndColumnOrAreDropped()
    {
        // 4 rows × 2 columns of float64: row 1 holds NaN in column 1, row 3 +∞ in column 0
        double[] v = [1, 2, 3, double.NaN, 5, 6, double.PositiveInfinity, 8];
        var data = new byte[64];
        for (int i = 0; i < 8; i++) BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(i * 8), v[i]);
        var bytes = NpyBytes("<f8", "(4, 2)", false, data);
        var ex = Assert.Throws<DataFormatException>(() => Npy.Parse(bytes, "nan.npy"));
        Assert.Equal("nan.npy: row 1, column x1 (counting from 0, as NumPy indexes) is NaN: values must be finite", ex.Message);
        File.WriteAllBytes(P("nan.npy"), bytes);
        Assert.Contains("row 1, column x1", Assert.Throws<DataFormatException>(() => Npy.Read(P("nan.npy"))).Message);
        Assert.Contains("row 1, column x1", Assert.Throws<DataFormatException>(() => Npy.ReadTensor<double>(P("nan.npy"))).Message);
        var kept = Csv.ReadAny(P("nan.npy"), dropInvalid: true);
        Assert.Equal(2, kept.Rows);
        Assert.Equal(2, kept.DroppedRows);
        Assert.Equal([1.0, 2, 5, 6], kept.Values);
        // a float64 value beyond the float range read as float32
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(24), 1e300);
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(48), 7);
        File.WriteAllBytes(P("big.npy"), NpyBytes("<f8", "(4, 2)", false, data));
        Assert.Equal(1e300, Npy.ReadTensor<double>(P("big.npy")).ReadOnlySpan[3]);
        Assert.Contains("row 1, column x1 (counting from 0, as NumPy indexes) is Infinity as float32 (not finite, or beyond the float32 range)", Assert.Throws<DataFormatException>(() => Npy.ReadTensor<float>(P("big.npy"))).Message);
        // every row invalid
        var allBad = NpyBytes("<f8", "(1, 1)", false, BitConverter.GetBytes(double.NaN));
        Assert.Contains("no valid rows (all 1 were dropped", Assert.Throws<DataFormatException>(() => Npy.Parse(allBad, "b.npy", dropInvalid: true)).Message);
    }

    [Fact]
    public void InterruptedWriteKeepsTheOldFile()
    {
        string path = P("keep.csv");
        File.WriteAllText(path, "a\n1\n");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, fs =>
        {
            fs.Write(new byte[1000]);
            throw new InvalidOperationException("disk on fire");
        }));
        Assert.Equal("a\n1\n", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_dir)); // no temporary left behind
    }
}

public class TableTests
{
    [Fact]
    public void ToColumnsAndHead()
    {
        var t = new Table(["a", "b"], [1, 2, 3, 4, 5, 6], 3);
        var c = t.ToColumns();
        Assert.Equal([1.0, 3, 5], c[0]);
        Assert.Equal([2.0, 4, 6], c[1]);
        var h = t.Head(2);
        Assert.Equal(2, h.Rows);
        Assert.Equal([1.0, 2, 3, 4], h.Values);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Head(4));
    }
}
