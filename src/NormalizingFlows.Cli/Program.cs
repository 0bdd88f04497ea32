namespace NormalizingFlows.Cli;

/// <summary>Entry point of the <c>nflow</c> command-line tool.</summary>
public static class Program
{
    /// <summary>Runs the tool.</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "demo")
        {
            Console.WriteLine("nflow demo: the flow library is not built yet (see the issues); the engine is in place.");
            return 0;
        }
        Console.WriteLine("nflow — normalizing flows for .NET. Verbs: demo");
        return args.Length == 0 || args[0] is "--help" or "-h" ? 0 : 2;
    }
}
