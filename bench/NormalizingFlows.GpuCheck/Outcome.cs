namespace NormalizingFlows.GpuCheck;

/// <summary>
/// Runs each check and workload on its own: an exception (a cuBLAS status, out of memory, a kernel fault) prints one
/// JSON line {"error", "model", check or workload} and the program goes on; <see cref="Summary"/> prints the last line.
/// </summary>
internal sealed class Outcome(string device)
{
    private readonly List<string> _failed = [];

    public bool Pass => _failed.Count == 0;

    /// <summary>Runs <paramref name="body"/> (true = passed); a false result or an exception counts as failed.</summary>
    public void Run(string model, string kind, string name, Func<bool> body)
    {
        bool ok;
        try { ok = body(); }
        catch (Exception e)
        {
            Json.Line(("error", $"{e.GetType().Name}: {e.Message.Split('\n')[0]}"), ("model", model), (kind, name), ("device", device));
            ok = false;
        }
        if (!ok) _failed.Add($"{model}/{name}");
    }

    /// <summary>{"check":"all","pass":…,"failed":[…]}: the exit code does not survive the documented pipe through tee.</summary>
    public void Summary() => Json.Line(("check", "all"), ("pass", Pass), ("failed", _failed), ("device", device));
}
