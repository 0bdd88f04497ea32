namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>Which flow II generates the normalised showers.</summary>
public enum CaloSampler
{
    /// <summary>The MAF teacher (CaloFlow v1): sequential sampling.</summary>
    Teacher,
    /// <summary>The distilled IAF student (CaloFlow v2): one pass.</summary>
    Student,
    /// <summary>
    /// The MAF teacher sampled as CaloFlow v1 and nflows do: D = 504 full MADE passes per layer (each fixing one more
    /// voxel). Same samples as <see cref="Teacher"/> (which uses the library's incremental MADE, about one pass of work).
    /// </summary>
    TeacherFullPasses,
}
