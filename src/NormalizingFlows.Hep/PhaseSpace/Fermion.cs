namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// A massless Standard-Model fermion: PDG id of the particle, electric charge Q (units of e), third component of weak
/// isospin T₃ of its left-handed state, and number of colours.
/// </summary>
public sealed record Fermion(string Name, int PdgId, double Charge, double WeakIsospin, int Colours)
{
    /// <summary>The electron (PDG 11).</summary>
    public static Fermion Electron { get; } = new("e", 11, -1, -0.5, 1);

    /// <summary>The muon (PDG 13).</summary>
    public static Fermion Muon { get; } = new("mu", 13, -1, -0.5, 1);

    /// <summary>The down quark (PDG 1).</summary>
    public static Fermion Down { get; } = new("d", 1, -1.0 / 3, -0.5, 3);

    /// <summary>The up quark (PDG 2).</summary>
    public static Fermion Up { get; } = new("u", 2, 2.0 / 3, 0.5, 3);

    /// <summary>The strange quark (PDG 3).</summary>
    public static Fermion Strange { get; } = new("s", 3, -1.0 / 3, -0.5, 3);

    /// <summary>The charm quark (PDG 4).</summary>
    public static Fermion Charm { get; } = new("c", 4, 2.0 / 3, 0.5, 3);

    /// <summary>The bottom quark (PDG 5).</summary>
    public static Fermion Bottom { get; } = new("b", 5, -1.0 / 3, -0.5, 3);

    /// <summary>The lightest <paramref name="flavours"/> quarks d, u, s, c, b (1 to 5), all treated as massless.</summary>
    public static IReadOnlyList<Fermion> Quarks(int flavours)
    {
        if (flavours < 1 || flavours > 5) throw new ArgumentOutOfRangeException(nameof(flavours), flavours, "number of quark flavours must be 1 to 5");
        return new[] { Down, Up, Strange, Charm, Bottom }[..flavours];
    }

    /// <summary>Left-handed Z coupling g_L = T₃ − Q sin²θ_W (the Z vertex is i e/(sin θ_W cos θ_W) γ^μ (g_L P_L + g_R P_R)).</summary>
    public double LeftCoupling(double sinSquaredThetaW) => WeakIsospin - Charge * sinSquaredThetaW;

    /// <summary>Right-handed Z coupling g_R = −Q sin²θ_W.</summary>
    public double RightCoupling(double sinSquaredThetaW) => -Charge * sinSquaredThetaW;
}
