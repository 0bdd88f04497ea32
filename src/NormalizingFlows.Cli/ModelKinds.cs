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
        CaloFlow.FileKind => "this is a CaloFlow model: use nflow calo generate (or nflow calo eval)",
        PosteriorEstimator<float>.FileKind => "this is a posterior model: use nflow infer sample (or nflow infer calibrate)",
        MaximumLikelihoodTrainer<float>.CheckpointKind => "this is a training checkpoint, not a model: continue it with nflow train DATA --resume FILE",
        _ => null,
    };

    /// <summary>Runs <paramref name="load"/>; a <see cref="ModelFileException"/> for a file of another known kind becomes one that names the verb to use.</summary>
    public static T Load<T>(string path, Func<string, T> load)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        try { return load(path); }
        catch (ModelFileException ex) when (Advice(ex.FileKind) is { } advice)
        { throw new ModelFileException(path, advice, ex) { FileKind = ex.FileKind }; }
    }
}
