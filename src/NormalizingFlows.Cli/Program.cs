namespace NormalizingFlows.Cli;

/// <summary>Entry point of the <c>nflow</c> command-line tool.</summary>
public static class Program
{
    /// <summary>Runs the tool.</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "demo")
        {
            string dataset = Option(args, "--data") ?? "moons";
            string output = Option(args, "-o") ?? Option(args, "--output") ?? "demo-report.html";
            int epochs = int.Parse(Option(args, "--epochs") ?? "40", System.Globalization.CultureInfo.InvariantCulture);
            return Demo.Run(dataset, output, epochs);
        }
        Console.WriteLine("nflow — normalizing flows for .NET");
        Console.WriteLine("usage: nflow demo [--data moons|circles|8gaussians|checkerboard|pinwheel|swissroll|2spirals] [--epochs 40] [-o demo-report.html]");
        return args.Length == 0 || args[0] is "--help" or "-h" ? 0 : 2;
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
