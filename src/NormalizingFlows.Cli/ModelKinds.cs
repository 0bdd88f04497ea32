using NormalizingFlows.Hep.Calorimeter;
using NormalizingFlows.Hep.Inference;
using NormalizingFlows.Models;
using NormalizingFlows.Training;
using NormalizingFlows.IO;

namespace NormalizingFlows.Cli;

/// <summary>Which verbs read which model-file kind: a file of the wrong kind gets an error naming its kind and the verb to use.</summary>
internal static class ModelKinds
{
    /// <summary>"this is a CaloFlow model: use nflow calo generate", … for a known kind; null otherwise.</summary>
    public static string? Advice(string? kind) => kind switch
    {
        ModelFile.Kind => "this is a flow model (nflow train): use nflow sample, logprob, eval or info",
        CaloBundle => "this is a CaloFlow model: use nflow calo generate (or nflow calo eval), or nflow info to list its parts",
        CaloFlow.LegacyFileKind => "this CaloFlow model was written by an older version of nflow: retrain it with nflow calo train",
        ModelFile.BundleKind => "this is a model bundle: use nflow info to list its parts",
        PosteriorEstimator<float>.LegacyFileKind => "this posterior model was written by an older version of nflow: retrain it with nflow infer train",
        Posterior => "this is a posterior model: use nflow infer sample (or nflow infer calibrate)",
        MaximumLikelihoodTrainer<float>.CheckpointKind => "this is a training checkpoint, not a model: continue it with nflow train DATA --resume FILE",
        _ => null,
    };

    // a flow model file that a posterior estimator wrote ("role" = "posterior" in its metadata), a bundle of a CaloFlow
    private const string Posterior = "nflow-model/posterior", CaloBundle = ModelFile.BundleKind + "/" + CaloFlow.Role;

    /// <summary>Runs <paramref name="load"/>; a <see cref="ModelFileException"/> for a file of another known kind becomes one that names the verb to use.</summary>
    public static T Load<T>(string path, Func<string, T> load)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        try { return load(path); }
        catch (ModelFileException ex) when (Advice(Refine(path, ex.FileKind)) is { } advice)
        { throw new ModelFileException(path, advice, ex) { FileKind = ex.FileKind }; }
    }

    // a flow model file that holds a posterior gets the posterior's advice, a CaloFlow bundle the CaloFlow's
    private static string? Refine(string path, string? kind)
    {
        if (kind is not (ModelFile.Kind or ModelFile.BundleKind)) return kind;
        try
        {
            var meta = SafeTensors.Load(path).Metadata;
            if (kind == ModelFile.BundleKind) return meta.TryGetValue(ModelFile.BundleRoleKey, out var bundleRole) && bundleRole == CaloFlow.Role ? CaloBundle : kind;
            return meta.TryGetValue(PosteriorEstimator<float>.RoleKey, out var role) && role == PosteriorEstimator<float>.Role ? Posterior : kind;
        }
        catch (SafeTensorsFormatException) { return kind; }
    }
}
