using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// The CaloFlow pre- and post-processing (Krause &amp; Shih 2021), as pure functions on double arrays.
/// <para>
/// Flow I sees u₀ = E_tot/(s·E_inc), u₁ = E₀/E_tot, u₂ = E₁/(E₁ + E₂) ∈ [0, 1] (s: <see cref="EnergyScale"/>, above
/// every observed E_tot/E_inc), each mapped to logit(α + (1 − 2α)u), conditioned on log₁₀ E_inc − 1.
/// Flow II sees the voxels after adding uniform noise in [0, δ) (so zero voxels become a continuous band),
/// normalising each layer to unit sum and mapping logit(α + (1 − 2α)Î), conditioned on
/// (log₁₀ E_inc − 1, log₁₀(E_i + 10⁻³)/2). Post-processing inverts this: sigmoid, undo α, renormalise each layer, scale
/// to E_i and zero every voxel below the readout threshold (δ stays below the threshold, so the noise never creates
/// a voxel). δ defaults to a quarter of the threshold: a band that narrow in energy is still wide in logit space, and
/// a much narrower one (1 keV) became a near-delta spike that the flow fits at the expense of the voxels just above
/// threshold (e⁺ teacher AUC 0.97 with δ = 1 keV, 0.62 with δ = 0.5 MeV). The features are then standardised inside each flow's <see cref="Models.FlowModel{T}"/> (<see cref="CaloFlow"/>); these maps stay outside it: flow I's depends on E_inc and flow II's normalisation is not a bijection.
/// </para>
/// </summary>
public sealed record CaloFlowPreprocessing
{
    /// <summary>Number of flow-I features (u₀, u₁, u₂).</summary>
    public const int Flow1Features = 3;

    /// <summary>Number of flow-II context features (log E_inc and the three log E_i).</summary>
    public const int Flow2ContextFeatures = 4;

    /// <summary>Logit regularisation α of flow II.</summary>
    public double Alpha { get; init; } = 1e-6;

    /// <summary>Logit regularisation α of flow I.</summary>
    public double Flow1Alpha { get; init; } = 1e-4;

    private readonly double? _noise;

    /// <summary>
    /// Width δ of the uniform noise added to every voxel (GeV); must stay below <see cref="Threshold"/>. Unless set,
    /// <see cref="DefaultNoise"/> of the threshold.
    /// </summary>
    public double Noise
    {
        get => _noise ?? DefaultNoise(Threshold);
        init => _noise = value;
    }

    /// <summary>The default noise width for a readout threshold: a quarter of it (10⁻⁶ GeV without a threshold).</summary>
    public static double DefaultNoise(double threshold) => threshold > 0 ? threshold / 4 : 1e-6;

    /// <summary>Readout threshold applied after generation (GeV).</summary>
    public double Threshold { get; init; } = 0.002;

    /// <summary>s in u₀ = E_tot/(s·E_inc).</summary>
    public double EnergyScale { get; init; } = 1.5;

    /// <summary>logit(α + (1 − 2α)u) with u clamped to [0, 1].</summary>
    public static double Logit(double u, double alpha)
    {
        double p = alpha + (1 - 2 * alpha) * Math.Clamp(u, 0, 1);
        return Math.Log(p) - Math.Log(1 - p);
    }

    /// <summary>The inverse of <see cref="Logit"/>: (σ(x) − α)/(1 − 2α), clamped to [0, 1].</summary>
    public static double InverseLogit(double x, double alpha)
    {
        double s = x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));
        return Math.Clamp((s - alpha) / (1 - 2 * alpha), 0, 1);
    }

    /// <summary>The flow-I context of incident energy <paramref name="incidentEnergy"/>: log₁₀ E_inc − 1.</summary>
    public static double Flow1Context(double incidentEnergy) => Math.Log10(incidentEnergy) - 1;

    /// <summary>The voxels with uniform noise in [0, δ) added (deterministic for <paramref name="rng"/>).</summary>
    public double[] AddNoise(CaloShowers showers, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(showers);
        ArgumentNullException.ThrowIfNull(rng);
        var v = (double[])showers.Voxels.Clone();
        for (int i = 0; i < v.Length; i++) v[i] += Noise * rng.NextDouble();
        return v;
    }

    /// <summary>Layer energies [n, 3] of voxel rows [n, 504].</summary>
    public static double[] LayerEnergies(ReadOnlySpan<double> voxels)
    {
        int n = voxels.Length / CaloGeometry.Voxels;
        var e = new double[n * 3];
        for (int i = 0; i < n; i++)
            for (int l = 0; l < 3; l++)
            {
                var g = CaloGeometry.Layers[l];
                double s = 0;
                foreach (double v in voxels.Slice(i * CaloGeometry.Voxels + g.Offset, g.Voxels)) s += v;
                e[i * 3 + l] = s;
            }
        return e;
    }

    /// <summary>Flow-I features [n, 3] (logits of u₀, u₁, u₂, before standardisation) from layer energies [n, 3].</summary>
    public double[] Flow1Forward(ReadOnlySpan<double> layerEnergies, ReadOnlySpan<double> incidentEnergies)
    {
        int n = incidentEnergies.Length;
        var x = new double[n * 3];
        for (int i = 0; i < n; i++)
        {
            double e0 = layerEnergies[i * 3], e1 = layerEnergies[i * 3 + 1], e2 = layerEnergies[i * 3 + 2], tot = e0 + e1 + e2;
            double u0 = tot / (EnergyScale * incidentEnergies[i]);
            double u1 = tot > 0 ? e0 / tot : 0.5;
            double u2 = e1 + e2 > 0 ? e1 / (e1 + e2) : 0.5;
            x[i * 3] = Logit(u0, Flow1Alpha);
            x[i * 3 + 1] = Logit(u1, Flow1Alpha);
            x[i * 3 + 2] = Logit(u2, Flow1Alpha);
        }
        return x;
    }

    /// <summary>Layer energies [n, 3] from flow-I features [n, 3] (the inverse of <see cref="Flow1Forward"/>).</summary>
    public double[] Flow1Inverse(ReadOnlySpan<double> features, ReadOnlySpan<double> incidentEnergies)
    {
        int n = incidentEnergies.Length;
        var e = new double[n * 3];
        for (int i = 0; i < n; i++)
        {
            double tot = InverseLogit(features[i * 3], Flow1Alpha) * EnergyScale * incidentEnergies[i];
            double e0 = InverseLogit(features[i * 3 + 1], Flow1Alpha) * tot;
            double e1 = InverseLogit(features[i * 3 + 2], Flow1Alpha) * (tot - e0);
            e[i * 3] = e0; e[i * 3 + 1] = e1; e[i * 3 + 2] = Math.Max(0, tot - e0 - e1);
        }
        return e;
    }

    /// <summary>Flow-II context [n, 4] from incident energies and layer energies [n, 3].</summary>
    public static double[] Flow2Context(ReadOnlySpan<double> incidentEnergies, ReadOnlySpan<double> layerEnergies)
    {
        int n = incidentEnergies.Length;
        var c = new double[n * 4];
        for (int i = 0; i < n; i++)
        {
            c[i * 4] = Flow1Context(incidentEnergies[i]);
            for (int l = 0; l < 3; l++) c[i * 4 + 1 + l] = Math.Log10(Math.Max(0, layerEnergies[i * 3 + l]) + 1e-3) / 2;
        }
        return c;
    }

    /// <summary>Flow-II features [n, 504] (before standardisation) from noised voxels [n, 504]: per-layer normalisation and logit.</summary>
    public double[] Flow2Forward(ReadOnlySpan<double> noisedVoxels)
    {
        int n = noisedVoxels.Length / CaloGeometry.Voxels;
        var x = new double[noisedVoxels.Length];
        for (int i = 0; i < n; i++)
            foreach (var g in CaloGeometry.Layers)
            {
                var s = noisedVoxels.Slice(i * CaloGeometry.Voxels + g.Offset, g.Voxels);
                double sum = 0;
                foreach (double v in s) sum += v;
                for (int k = 0; k < g.Voxels; k++)
                    x[i * CaloGeometry.Voxels + g.Offset + k] = Logit(sum > 0 ? s[k] / sum : 1.0 / g.Voxels, Alpha);
            }
        return x;
    }

    /// <summary>
    /// Voxels [n, 504] from flow-II features [n, 504] and layer energies [n, 3]: inverse logit, per-layer renormalisation,
    /// scaling to E_i and the readout threshold.
    /// </summary>
    public double[] Flow2Inverse(ReadOnlySpan<double> features, ReadOnlySpan<double> layerEnergies)
    {
        int n = features.Length / CaloGeometry.Voxels;
        var v = new double[features.Length];
        for (int i = 0; i < n; i++)
            for (int l = 0; l < 3; l++)
            {
                var g = CaloGeometry.Layers[l];
                int o = i * CaloGeometry.Voxels + g.Offset;
                double sum = 0;
                for (int k = 0; k < g.Voxels; k++) sum += v[o + k] = InverseLogit(features[o + k], Alpha);
                double e = Math.Max(0, layerEnergies[i * 3 + l]);
                for (int k = 0; k < g.Voxels; k++)
                {
                    double val = sum > 0 ? v[o + k] / sum * e : 0;
                    v[o + k] = val < Threshold ? 0 : val;
                }
            }
        return v;
    }
}
