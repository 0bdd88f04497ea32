using System.CommandLine;
using NormalizingFlows.Models;

namespace NormalizingFlows.Cli;

/// <summary><c>nflow info</c>: describes a model file or a model bundle (its parts).</summary>
internal static class InfoCommand
{
    public static Command Build(CliContext ctx)
    {
        var model = Commands.ModelArgument();
        var cmd = new Command("info", "Describe a model file: architecture, preprocessing, columns, training history, metadata (a bundle: its role and each part).") { model };
        cmd.SetAction(r =>
        {
            ctx.Out.WriteLine(ModelKinds.Load(r.GetValue(model)!, ModelFile.Describe));
            return 0;
        });
        return cmd;
    }
}
