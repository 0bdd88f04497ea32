using System.Buffers.Binary;
using System.Text;

namespace NormalizingFlows.Cli.Tests;

/// <summary>Bad input files and counts reach the user as one-line errors naming the file and the place (issue 14, item 12).</summary>
public class ReaderErrorTests
{
    internal static byte[] NpyF8(string shape, params double[] values)
    {
        string header = $"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}\n";
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        var len = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        ms.Write(len);
        ms.Write(Encoding.Latin1.GetBytes(header));
        var b = new byte[8];
        foreach (var v in values) { BinaryPrimitives.WriteDoubleLittleEndian(b, v); ms.Write(b); }
        return ms.ToArray();
    }

    private static string[] Expand(CliSandbox s, string[] args, string model) =>
        args.Select(a => a.Replace("{dir}", s.Dir).Replace("{model}", model)).ToArray();

    private static string SmallModel(CliSandbox s)
    {
        var (code, _, err) = s.Run("toy", "moons", "-n", "300", "-o", s["moons.csv"]);
        Assert.True(code == 0, err);
        (code, var output, err) = s.Run("train", s["moons.csv"], "--flow", "nsf", "--layers", "2", "--hidden", "8", "--bins", "4", "--epochs", "1", "-o", s["m.nflow"]);
        Assert.True(code == 0, err + output);
        return s["m.nflow"];
    }

    public static TheoryData<string[], int, string> Cases() => new()
    {
        { ["train", "{dir}/neg.npy"], 1, "neg.npy: shape (-3, 2) has a negative dimension -3" },
        { ["train", "{dir}/nan.npy"], 1, "nan.npy: row 2, column x1 (counting from 0, as NumPy indexes) is NaN: values must be finite" },
        { ["train", "{dir}/nan.npy", "--val", "{dir}/nan.npy"], 1, "nan.npy: row 2, column x1" },
        { ["logprob", "{model}", "{dir}/nan.npy"], 1, "nan.npy: row 2, column x1" },
        { ["logprob", "{model}", "{dir}/neg.npy"], 1, "neg.npy: shape (-3, 2) has a negative dimension -3" },
        { ["sample", "{model}", "-n", "30000000000000000000", "-o", "{dir}/s.csv"], 2, "-n 30000000000000000000 is out of range (at most 9,223,372,036,854,775,807)" },
        { ["integrate", "-d", "99999999999"], 2, "--dim 99999999999 is out of range" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadFilesAndCountsGiveOneLineNamedErrors(string[] args, int expectedCode, string expectedMessage)
    {
        using var s = new CliSandbox();
        File.WriteAllBytes(s["neg.npy"], NpyF8("(-3, 2)", 1, 2, 3, 4, 5, 6));
        File.WriteAllBytes(s["nan.npy"], NpyF8("(4, 2)", 0.1, 0.2, 0.3, 0.4, 0.5, double.NaN, 0.7, 0.8));
        string model = args.Contains("{model}") ? SmallModel(s) : "";
        var (code, output, err) = s.Run(Expand(s, args, model));
        Assert.True(expectedCode == code, $"exit {code}; out: {output}; err: {err}");
        Assert.Contains(expectedMessage, err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => !l.StartsWith("Run 'nflow", StringComparison.Ordinal));
        Assert.DoesNotContain("Exception", err);
    }

    [Fact]
    public void DropInvalidWorksForNpy()
    {
        using var s = new CliSandbox();
        string model = SmallModel(s);
        File.WriteAllBytes(s["nan.npy"], NpyF8("(4, 2)", 0.1, 0.2, 0.3, 0.4, 0.5, double.NaN, 0.7, 0.8));
        var (code, output, err) = s.Run("logprob", model, s["nan.npy"], "--drop-invalid");
        Assert.True(code == 0, err);
        Assert.Contains("dropped 1 invalid row(s)", err);
        Assert.Contains("(3 events)", output);
    }
}
