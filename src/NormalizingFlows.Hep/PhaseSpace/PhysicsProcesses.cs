using System.Diagnostics.CodeAnalysis;

namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// The physics processes by name, for the command line (<c>nflow integrate --process NAME</c>):
/// <c>ee-mumu</c> (e⁺e⁻ → μ⁺μ⁻, d = 2), <c>ee-qqg</c> (e⁺e⁻ → q q̄ g with y_ij &gt; y_cut, d = 6) and <c>ee-qqgg</c>
/// (e⁺e⁻ → q q̄ g g with y_ij &gt; y_cut, d = 9); the suffix <c>-rambo</c> (<c>ee-mumu-rambo</c>, d = 8;
/// <c>ee-qqg-rambo</c>, d = 12; <c>ee-qqgg-rambo</c>, d = 16) selects RAMBO phase space instead.
/// </summary>
public static class PhysicsProcesses
{
    /// <summary>The accepted names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["ee-mumu", "ee-qqg", "ee-qqgg", "ee-mumu-rambo", "ee-qqg-rambo", "ee-qqgg-rambo"];

    /// <summary>Creates the named process with default options; false for an unknown name.</summary>
    public static bool TryCreate(string name, [NotNullWhen(true)] out IPhaseSpaceProcess? process) =>
        TryCreate(name, new PhysicsProcessOptions(), out process);

    /// <summary>
    /// Creates the named process (case-insensitive) with <paramref name="options"/>; false for an unknown name.
    /// Invalid option values throw <see cref="ArgumentException"/> naming the option.
    /// </summary>
    public static bool TryCreate(string name, PhysicsProcessOptions options, [NotNullWhen(true)] out IPhaseSpaceProcess? process)
    {
        ArgumentNullException.ThrowIfNull(options);
        process = null;
        if (string.IsNullOrWhiteSpace(name)) return false;
        string n = name.Trim().ToLowerInvariant();
        var mapping = options.Mapping;
        if (n.EndsWith("-rambo", StringComparison.Ordinal)) { mapping = PhaseSpaceMappingKind.Rambo; n = n[..^"-rambo".Length]; }
        switch (n)
        {
            case "ee-mumu":
                CheckSqrtS(options);
                process = new EeToMuMuProcess(options.SqrtS, mapping, options.Parameters);
                return true;
            case "ee-qqg":
                CheckPartons(options, 3);
                process = new EeToQqgProcess(options.SqrtS, options.YCut, options.Flavours, mapping, options.Parameters);
                return true;
            case "ee-qqgg":
                CheckPartons(options, 4);
                process = new EeToQqggProcess(options.SqrtS, options.YCut, options.Flavours, mapping, options.Parameters);
                return true;
            default:
                return false; // not a physics process: its options are not checked
        }
    }

    /// <summary>√s, y_cut ∈ (0, 1/C(n, 2)) for n partons and the number of flavours.</summary>
    static void CheckPartons(PhysicsProcessOptions options, int partons)
    {
        CheckSqrtS(options);
        int pairs = partons * (partons - 1) / 2;
        if (!(options.YCut > 0 && options.YCut < 1.0 / pairs))
            throw new ArgumentException($"y_cut must lie in (0, 1/{pairs}), got {options.YCut}", nameof(options));
        if (options.Flavours < 1 || options.Flavours > 5)
            throw new ArgumentException($"flavours must be 1 to 5, got {options.Flavours}", nameof(options));
    }

    static void CheckSqrtS(PhysicsProcessOptions options)
    {
        if (!(options.SqrtS > 0) || double.IsInfinity(options.SqrtS))
            throw new ArgumentException($"sqrt(s) must be a positive energy in GeV, got {options.SqrtS}", nameof(options));
    }

    /// <summary>Creates the named process or throws <see cref="ArgumentException"/> listing the known names.</summary>
    public static IPhaseSpaceProcess Create(string name, PhysicsProcessOptions? options = null) =>
        TryCreate(name, options ?? new PhysicsProcessOptions(), out var p)
            ? p
            : throw new ArgumentException($"unknown process '{name}'; known: {string.Join(", ", Names)}", nameof(name));
}
