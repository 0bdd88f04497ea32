using System.Collections.Concurrent;

namespace NormalizingFlows.Hep.Integration;

/// <summary>
/// Integrands by name, for the command line and benchmarks: a factory per name taking the requested dimension
/// (null: the integrand's default). Built in: gaussian, camel, polynomial (any d; default 2), circles and annulus
/// (2-D), box (3-D); more with <see cref="Register"/>. The e⁺e⁻ physics processes are not in the catalog (they take √s and
/// y_cut): see <see cref="PhaseSpace.PhysicsProcesses"/>. Names are case-insensitive.
/// </summary>
public static class IntegrandCatalog
{
    private static readonly ConcurrentDictionary<string, (Func<int?, IIntegrand> Factory, string Description)> Entries = new(StringComparer.OrdinalIgnoreCase);

    static IntegrandCatalog()
    {
        Register("gaussian", d => new GaussianIntegrand(d ?? 2), "n-D Gaussian at ½, width 0.2 (i-flow); ∫ = erf(2.5)^n");
        Register("camel", d => new CamelIntegrand(d ?? 2), "two Gaussians at ⅓ and ⅔ on the diagonal, width 0.2 (i-flow)");
        Register("polynomial", d => new PolynomialIntegrand(d ?? 2), "Σ (xᵢ − xᵢ²); ∫ = n/6");
        Register("circles", d => Fixed(d, 2, "circles", () => new EntangledCirclesIntegrand()), "i-flow's entangled circles (2-D)");
        Register("annulus", d => Fixed(d, 2, "annulus", () => new AnnulusIntegrand()), "annulus 0.2 < r < 0.45 around (½, ½) (2-D)");
        Register("box", d => Fixed(d, 3, "box", () => new ScalarBoxIntegrand()), "scalar one-loop box in Feynman parameters, Euclidean region (3-D)");
    }

    /// <summary>Registers (or replaces) <paramref name="name"/>; the factory gets the requested dimension or null.</summary>
    public static void Register(string name, Func<int?, IIntegrand> factory, string description = "")
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("an integrand needs a name", nameof(name));
        ArgumentNullException.ThrowIfNull(factory);
        Entries[name.Trim()] = (factory, description ?? "");
    }

    /// <summary>The registered names, sorted.</summary>
    public static IReadOnlyList<string> Names => Entries.Keys.Order(StringComparer.OrdinalIgnoreCase).ToArray();

    /// <summary>The description given at registration ("" when none or unknown).</summary>
    public static string Describe(string name) => Entries.TryGetValue(name, out var e) ? e.Description : "";

    /// <summary>Creates <paramref name="name"/> in <paramref name="dimensions"/> dimensions (null: default); false for an unknown name.</summary>
    public static bool TryCreate(string name, int? dimensions, out IIntegrand integrand)
    {
        integrand = null!;
        if (name is null || !Entries.TryGetValue(name.Trim(), out var e)) return false;
        integrand = e.Factory(dimensions) ?? throw new InvalidOperationException($"the factory of integrand '{name}' returned null");
        return true;
    }

    /// <summary>Creates <paramref name="name"/>; throws an ArgumentException listing the known names when it is unknown.</summary>
    public static IIntegrand Create(string name, int? dimensions = null) =>
        TryCreate(name, dimensions, out var f) ? f
            : throw new ArgumentException($"unknown integrand '{name}' (known: {string.Join(", ", Names)})", nameof(name));

    /// <summary>
    /// The reference value of ∫ f: the analytic value when known, else the quadrature of an
    /// <see cref="IQuadratureReference"/>, else null.
    /// </summary>
    public static double? Reference(IIntegrand integrand)
    {
        ArgumentNullException.ThrowIfNull(integrand);
        if (integrand.AnalyticValue is { } v) return v;
        return integrand is IQuadratureReference q ? q.ComputeReference().Value : null;
    }

    private static IIntegrand Fixed(int? requested, int dimensions, string name, Func<IIntegrand> make)
    {
        if (requested is { } d && d != dimensions)
            throw new ArgumentException($"integrand '{name}' is {dimensions}-dimensional; got --dim {d}");
        return make();
    }
}
