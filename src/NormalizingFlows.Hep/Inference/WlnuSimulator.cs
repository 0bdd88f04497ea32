using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Inference;

/// <summary>
/// An event generator of leptonic W decays, W → ℓν at the LHC (13 TeV, shapes approximated analytically): the W
/// mass from a relativistic Breit–Wigner (M = 80.379, Γ = 2.085 GeV, within [50, 110] GeV), its transverse momentum
/// from p(p_T) ∝ p_T/(p_T² + c²)^n (peak near 3.5 GeV, power-law tail, c = 6 GeV, n = 2.2, below 400 GeV), its rapidity
/// from N(0, 2.0²) within |y| &lt; 4.5, W⁺ : W⁻ = 58 : 42, and the V−A decay angle (1 + a·cos θ*)² along the beam
/// (a = ±1 following the charge and the sign of y, the valence quark's direction). Lepton and neutrino are massless.
/// Events pass lepton acceptance cuts (p_T &gt; 25 GeV, |η| &lt; 2.5); the missing p_T is the neutrino's p_T plus
/// Gaussian noise of σ per component. Observation x = (ℓ p_x, p_y, p_z, E, E_T^miss x, y); parameters θ = neutrino
/// (p_x, p_y, η), so p_z = p_T·sinh η. Energies in GeV.
/// </summary>
public sealed class WlnuSimulator : ISimulator
{
    /// <summary>The W mass used by the generator and the quadratic constraint (GeV).</summary>
    public const double WMass = 80.379;

    /// <summary>The W width (GeV).</summary>
    public const double WWidth = 2.085;

    /// <summary>Creates the generator with missing-p_T noise <paramref name="missingPtSigma"/> GeV per component and the given cuts.</summary>
    public WlnuSimulator(double missingPtSigma = 10.0, double leptonPtMin = 25.0, double leptonEtaMax = 2.5)
    {
        if (!(missingPtSigma >= 0)) throw new ArgumentOutOfRangeException(nameof(missingPtSigma), missingPtSigma, "must be ≥ 0");
        if (!(leptonPtMin >= 0)) throw new ArgumentOutOfRangeException(nameof(leptonPtMin), leptonPtMin, "must be ≥ 0");
        if (!(leptonEtaMax > 0)) throw new ArgumentOutOfRangeException(nameof(leptonEtaMax), leptonEtaMax, "must be > 0");
        MissingPtSigma = missingPtSigma;
        LeptonPtMin = leptonPtMin;
        LeptonEtaMax = leptonEtaMax;
    }

    /// <summary>σ of the Gaussian missing-p_T smearing per component (GeV).</summary>
    public double MissingPtSigma { get; }

    /// <summary>Lepton p_T threshold (GeV).</summary>
    public double LeptonPtMin { get; }

    /// <summary>Lepton |η| limit.</summary>
    public double LeptonEtaMax { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ParameterNames { get; } = ["nu_px", "nu_py", "nu_eta"];

    /// <inheritdoc/>
    public IReadOnlyList<string> ObservationNames { get; } = ["l_px", "l_py", "l_pz", "l_e", "met_x", "met_y"];

    /// <summary>Fraction of generated W decays that pass the acceptance cuts in the last <see cref="Sample"/> call.</summary>
    public double LastAcceptance { get; private set; } = double.NaN;

    /// <inheritdoc/>
    public (double[] Theta, double[] X) Sample(int n, Rng rng)
    {
        SimulatorChecks.Count(n);
        ArgumentNullException.ThrowIfNull(rng);
        var theta = new double[3 * n];
        var x = new double[6 * n];
        long tried = 0;
        Span<double> lep = stackalloc double[4];
        Span<double> nu = stackalloc double[4];
        for (int r = 0; r < n;)
        {
            tried++;
            GenerateDecay(rng, lep, nu);
            double ptl = Math.Sqrt(lep[0] * lep[0] + lep[1] * lep[1]);
            if (ptl < LeptonPtMin || Math.Abs(Math.Asinh(lep[2] / ptl)) > LeptonEtaMax) continue;
            double ptn = Math.Sqrt(nu[0] * nu[0] + nu[1] * nu[1]);
            theta[3 * r] = nu[0];
            theta[3 * r + 1] = nu[1];
            theta[3 * r + 2] = Math.Asinh(nu[2] / ptn);
            x[6 * r] = lep[0]; x[6 * r + 1] = lep[1]; x[6 * r + 2] = lep[2]; x[6 * r + 3] = lep[3];
            x[6 * r + 4] = nu[0] + MissingPtSigma * rng.NextNormal();
            x[6 * r + 5] = nu[1] + MissingPtSigma * rng.NextNormal();
            r++;
        }
        LastAcceptance = n == 0 ? double.NaN : (double)n / tried;
        return (theta, x);
    }

    /// <summary>The neutrino p_z of parameter rows θ = (p_x, p_y, η): p_T·sinh η.</summary>
    public static double NeutrinoPz(double px, double py, double eta) => Math.Sqrt(px * px + py * py) * Math.Sinh(eta);

    /// <summary>One W decay in the lab: lepton and neutrino four-momenta (p_x, p_y, p_z, E).</summary>
    private static void GenerateDecay(Rng rng, Span<double> lep, Span<double> nu)
    {
        // mass: relativistic Breit–Wigner in s, sampled by the tan mapping within [50, 110] GeV
        double mg = WMass * WWidth;
        double lo = Math.Atan((50.0 * 50.0 - WMass * WMass) / mg), hi = Math.Atan((110.0 * 110.0 - WMass * WMass) / mg);
        double m = Math.Sqrt(WMass * WMass + mg * Math.Tan(lo + (hi - lo) * rng.NextDouble()));
        // transverse momentum: F(p_T) = 1 − (1 + p_T²/c²)^(1−n), inverted, below 400 GeV
        const double c = 6.0, power = 2.2;
        double pt;
        do pt = c * Math.Sqrt(Math.Pow(1 - rng.NextDouble(), 1 / (1 - power)) - 1);
        while (!(pt < 400));
        double y;
        do y = 2.0 * rng.NextNormal();
        while (Math.Abs(y) >= 4.5);
        double phi = 2 * Math.PI * rng.NextDouble();
        double charge = rng.NextDouble() < 0.58 ? 1 : -1;

        // decay angle in the rest frame: (1 + a cos θ)², sampled by inverting (1 + a c)³ with a = ±1
        double a = charge * (y >= 0 ? 1 : -1);
        double u = 2 * Math.Cbrt(rng.NextDouble()) - 1;
        double cosTheta = a > 0 ? u : -u;
        double sinTheta = Math.Sqrt(Math.Max(0, 1 - cosTheta * cosTheta));
        double phiStar = 2 * Math.PI * rng.NextDouble();
        double e = m / 2;
        double rx = e * sinTheta * Math.Cos(phiStar), ry = e * sinTheta * Math.Sin(phiStar), rz = e * cosTheta;

        // W four-momentum in the lab
        double mt = Math.Sqrt(m * m + pt * pt);
        double wx = pt * Math.Cos(phi), wy = pt * Math.Sin(phi), wz = mt * Math.Sinh(y), we = mt * Math.Cosh(y);
        Boost(rx, ry, rz, e, wx, wy, wz, we, m, lep);
        Boost(-rx, -ry, -rz, e, wx, wy, wz, we, m, nu);
    }

    /// <summary>Boosts (p, e) from the rest frame of a particle of mass m and lab momentum (w, we) to the lab.</summary>
    private static void Boost(double px, double py, double pz, double e, double wx, double wy, double wz, double we, double m, Span<double> result)
    {
        double dot = wx * px + wy * py + wz * pz;
        double k = dot / (m * (we + m)) + e / m;
        result[0] = px + k * wx;
        result[1] = py + k * wy;
        result[2] = pz + k * wz;
        result[3] = (we * e + dot) / m;
    }
}
