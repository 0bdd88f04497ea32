using System.Text.RegularExpressions;

namespace NormalizingFlows.Generators;

/// <summary>
/// The Vector512 twins of hand-written Vector256 code: the section of a source file between its <c>// &lt;generic&gt;</c>
/// and <c>// &lt;/generic&gt;</c> markers, widened. The twins run the same operations lane by lane, so they give the
/// same values as the Vector256 originals.
/// </summary>
public static partial class Avx512Twins
{
    private const string Open = "// <generic>", Close = "// </generic>";

    /// <summary>The lines strictly between the markers of <paramref name="source"/> (LF line ends, outer blank lines trimmed).</summary>
    public static string Section(string source, string sourcePath)
    {
        string text = source.ReplaceLineEndings("\n");
        int open = text.IndexOf(Open, StringComparison.Ordinal), close = text.IndexOf(Close, StringComparison.Ordinal);
        if (open < 0 || close < open)
            throw new InvalidOperationException($"{sourcePath}: the `{Open}` … `{Close}` markers are missing or out of order");
        int start = text.IndexOf('\n', open) + 1;       // the line after the opening marker
        int end = text.LastIndexOf('\n', close) + 1;    // the start of the closing marker's line
        return text[start..end].Trim('\n');
    }

    /// <summary>
    /// Vector256 → Vector512 with the AVX2/FMA intrinsics the section uses replaced by their AVX-512F forms, the
    /// all-lanes mask test widened to 16 lanes and the broadcast helper <c>C(…)</c> renamed <c>C512(…)</c> (an
    /// overload cannot differ by its return type alone).
    /// </summary>
    public static string Widen(string section) =>
        BroadcastHelper().Replace(section, "C512(")
            .Replace("Vector256", "Vector512", StringComparison.Ordinal)
            .Replace("Fma.MultiplyAddNegated(", "Avx512F.FusedMultiplyAddNegated(", StringComparison.Ordinal)
            .Replace("Fma.MultiplyAdd(", "Avx512F.FusedMultiplyAdd(", StringComparison.Ordinal)
            .Replace("Avx.Max(", "Avx512F.Max(", StringComparison.Ordinal)
            .Replace("Avx.Min(", "Avx512F.Min(", StringComparison.Ordinal)
            .Replace("Avx.ConvertToVector512Single(", "Avx512F.ConvertToVector512Single(", StringComparison.Ordinal)
            .Replace("ExtractMostSignificantBits() == 0xFF)", "ExtractMostSignificantBits() == 0xFFFF)", StringComparison.Ordinal);

    [GeneratedRegex(@"\bC\(")]
    private static partial Regex BroadcastHelper();
}
