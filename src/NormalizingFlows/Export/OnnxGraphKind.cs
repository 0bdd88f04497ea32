namespace NormalizingFlows.Export;

/// <summary>Which direction of a flow an ONNX file computes (ONNX has one graph per model).</summary>
public enum OnnxGraphKind
{
    /// <summary>The log-density: input "x" [N, D] (and "context" [N, C]) in original units, output "log_prob" [N].</summary>
    LogProb,
    /// <summary>Sampling: input "noise" [N, D] (a draw of the base distribution's noise, and "context"), output "x" [N, D] in original units.</summary>
    Sample,
}
