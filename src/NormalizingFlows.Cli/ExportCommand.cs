using System.CommandLine;
using System.Numerics;
using NormalizingFlows.Export;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow export</c>: writes a flow model as ONNX (log-density and/or sampling graph).</summary>
internal static class ExportCommand
{
    internal static readonly string[] Graphs = ["logprob", "sample", "both"];

    public static Command Build(CliContext ctx)
    {
        var model = Commands.ModelArgument();
        var output = Commands.Output("ONNX file to write (.onnx); with --graph both, NAME.onnx becomes NAME.logprob.onnx and NAME.sample.onnx");
        var graph = new Option<string>("--graph") { Description = "Which graph: logprob (input x [N, D] in original units, output log_prob [N]), sample (input noise [N, D], output x [N, D]) or both (two files)", DefaultValueFactory = _ => "logprob", HelpName = "GRAPH" };
        Commands.OneOf(graph, "graph", Graphs);
        var cmd = new Command("export", $"Export a flow model as ONNX (opset {OnnxExport.Opset}) for ONNX Runtime, C++ or Python: the log-density and/or sampling graph, preprocessing and context included.") { model, output, graph };
        cmd.SetAction(r =>
        {
            string path = r.GetValue(output)!, kind = r.GetValue(graph)!;
            if (!path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--output '{path}' must end in .onnx");
            var targets = kind == "both"
                ? new[] { (OnnxGraphKind.LogProb, path[..^5] + ".logprob.onnx"), (OnnxGraphKind.Sample, path[..^5] + ".sample.onnx") }
                : [(kind == "sample" ? OnnxGraphKind.Sample : OnnxGraphKind.LogProb, path)];
            OutputPaths.CheckAll(targets.Select(t => ("--output", (string?)t.Item2)).ToArray());
            string modelPath = r.GetValue(model)!;
            var info = Commands.ReadModel(modelPath);
            if (Commands.IsDoubleModel(info)) Write(Commands.LoadModel<double>(info));
            else Write(Commands.LoadModel<float>(info));
            return 0;

            void Write<T>(FlowModel<T> m) where T : unmanaged, IFloatingPointIeee754<T>
            {
                foreach (var (g, file) in targets)
                {
                    try { OnnxExport.Write(m, file, g); }
                    catch (NotSupportedException ex) { throw new ArgumentException($"{modelPath}: {ex.Message}", ex); }
                    ctx.Out.WriteLine($"wrote {file} ({(g == OnnxGraphKind.LogProb ? "log-density" : "sampling")} graph)");
                }
            }
        });
        return cmd;
    }
}
