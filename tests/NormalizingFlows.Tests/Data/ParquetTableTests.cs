using NormalizingFlows.Data;
using Parquet;
using Parquet.Schema;

namespace NormalizingFlows.Tests.Data;

public sealed class ParquetTableTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("nflow-parquet-").FullName;

    private string P(string name) => Path.Combine(dir, name);

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }

    private static Table Sample() => new(["pt", "eta", "E inc"], [1.5, -0.25, 100, 2.0 / 3, 1e-7, 3.25e5, -4, 0, 12.5], 3);

    [Fact]
    public void RoundTripsFloat32AndFloat64Columns()
    {
        var t = Sample();
        ParquetTable.Write(P("d.parquet"), t, float64: true);
        var back = ParquetTable.Read(P("d.parquet"));
        Assert.Equal(t.Columns, back.Columns);
        Assert.Equal(t.Values, back.Values);
        ParquetTable.Write(P("f.parquet"), t);
        var f = Csv.ReadAny(P("f.parquet"));
        Assert.Equal(t.Columns, f.Columns);
        Assert.Equal(t.Values.Select(v => (double)(float)v), f.Values);
        // column selection and renaming as for CSV and NPY
        var picked = Csv.ReadAny(P("d.parquet")).SelectColumns("E inc,x=pt");
        Assert.Equal(["E inc", "x"], picked.Columns);
        Assert.Equal([100, 1.5, 3.25e5, 2.0 / 3, 12.5, -4], picked.Values);
        // several row groups read back in order
        using (var fs = File.Create(P("groups.parquet")))
        using (var w = new ParquetTableWriter(fs, ["a", "b"], float64: true))
        {
            w.WriteRows([1, 2, 3, 4], 2);
            w.WriteRows([5, 6], 1);
        }
        var g = ParquetTable.Read(P("groups.parquet"));
        Assert.Equal(3, g.Rows);
        Assert.Equal([1.0, 2, 3, 4, 5, 6], g.Values);
    }

    [Fact]
    public void ReadsIntegerAndOptionalColumnsAndDropsNullsOnRequest()
    {
        var schema = new ParquetSchema(new DataField<int>("n", false), new DataField<double>("x", true), new DataField<long>("id", false));
        Write(P("mixed.parquet"), schema, async g =>
        {
            await g.WriteAsync<int>((DataField)schema[0], new ReadOnlyMemory<int>([1, 2, 3]));
            await g.WriteAsync<double>((DataField)schema[1], new ReadOnlyMemory<double?>([0.5, null, 2.5]));
            await g.WriteAsync<long>((DataField)schema[2], new ReadOnlyMemory<long>([10, 20, 30]));
        });
        var ex = Assert.Throws<DataFormatException>(() => ParquetTable.Read(P("mixed.parquet")));
        Assert.Contains("mixed.parquet", ex.Message);
        Assert.Contains("row 1 (counting from 0), column 'x' is NaN (a null reads as NaN)", ex.Message);
        var t = ParquetTable.Read(P("mixed.parquet"), dropInvalid: true);
        Assert.Equal(["n", "x", "id"], t.Columns);
        Assert.Equal([1.0, 0.5, 10, 3, 2.5, 30], t.Values);
        Assert.Equal(1, t.DroppedRows);
    }

    [Fact]
    public void NonNumericColumnsAndOtherFilesAreRefusedByName()
    {
        var schema = new ParquetSchema(new DataField<double>("x", false), new DataField<string>("label", false));
        Write(P("labels.parquet"), schema, async g =>
        {
            await g.WriteAsync<double>((DataField)schema[0], new ReadOnlyMemory<double>([1, 2]));
            await g.WriteAsync((DataField)schema[1], ["a", "b"]);
        });
        var ex = Assert.Throws<DataFormatException>(() => ParquetTable.Read(P("labels.parquet")));
        Assert.Contains("labels.parquet", ex.Message);
        Assert.True(ex.Message.Contains("column 'label' holds text (string) values, not numbers"), ex.Message);
        File.WriteAllText(P("fake.parquet"), "a,b\n1,2\n");
        ex = Assert.Throws<DataFormatException>(() => Csv.ReadAny(P("fake.parquet")));
        Assert.Contains("fake.parquet", ex.Message);
        Assert.Contains("not a readable Parquet file", ex.Message);
        Assert.Contains("file not found", Assert.Throws<DataFormatException>(() => ParquetTable.Read(P("none.parquet"))).Message);
        Assert.Throws<ArgumentException>(() => new ParquetTableWriter(new MemoryStream(), ["a", "a"]));
    }

    private static void Write(string path, ParquetSchema schema, Func<ParquetRowGroupWriter, Task> columns)
    {
        using var fs = File.Create(path);
        var writer = ParquetWriter.CreateAsync(schema, fs).GetAwaiter().GetResult();
        using (var g = writer.CreateRowGroup()) columns(g).GetAwaiter().GetResult();
        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
