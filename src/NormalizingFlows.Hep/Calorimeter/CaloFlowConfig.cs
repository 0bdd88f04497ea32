namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>Architecture of a <see cref="CaloFlow"/>. The defaults are the CaloFlow paper's sizes; CPU runs use smaller ones.</summary>
public sealed record CaloFlowConfig
{
    /// <summary>The particle the model was trained on (eplus, gamma, piplus; informational).</summary>
    public string Particle { get; init; } = "eplus";

    /// <summary>Flow I: MAF layers.</summary>
    public int Flow1Layers { get; init; } = 6;

    /// <summary>Flow I: MADE hidden units.</summary>
    public int Flow1Hidden { get; init; } = 64;

    /// <summary>Flow I: rational-quadratic bins (0: affine).</summary>
    public int Flow1Bins { get; init; } = 8;

    /// <summary>Flow II (teacher and student): MAF layers.</summary>
    public int Flow2Layers { get; init; } = 8;

    /// <summary>Flow II: MADE hidden units.</summary>
    public int Flow2Hidden { get; init; } = 504;

    /// <summary>Flow II: rational-quadratic bins (0: affine MADE blocks).</summary>
    public int Flow2Bins { get; init; } = 8;

    /// <summary>Spline half-width (in standardised units) of the rational-quadratic layers; identity tails beyond.</summary>
    public double SplineBound { get; init; } = 4;

    /// <summary>Pre- and post-processing settings.</summary>
    public CaloFlowPreprocessing Preprocessing { get; init; } = new();

    /// <summary>Throws an <see cref="ArgumentException"/> naming the bad setting.</summary>
    public void Validate()
    {
        if (Flow1Layers < 1 || Flow2Layers < 1) throw new ArgumentException("flows need at least one layer");
        if (Flow1Hidden < 1 || Flow2Hidden < 1) throw new ArgumentException("MADE blocks need hidden units");
        if (Flow1Bins < 0 || Flow2Bins < 0) throw new ArgumentException("bins must be ≥ 0 (0: affine)");
        if (!(SplineBound > 0)) throw new ArgumentException($"spline bound must be > 0, got {SplineBound}");
        var p = Preprocessing;
        if (!(p.Noise > 0) || !double.IsFinite(p.Noise)) throw new ArgumentException($"preprocessing noise must be a positive width, got {p.Noise} GeV");
        if (!(p.Threshold >= 0)) throw new ArgumentException($"readout threshold must be ≥ 0, got {p.Threshold} GeV");
        if (p.Noise >= p.Threshold && p.Threshold > 0)
            throw new ArgumentException($"preprocessing noise ({p.Noise} GeV) must stay below the readout threshold ({p.Threshold} GeV), or generated empty voxels would survive the threshold");
    }
}
