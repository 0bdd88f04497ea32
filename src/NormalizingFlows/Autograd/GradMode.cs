namespace NormalizingFlows.Autograd;

/// <summary>Thread-local switch for recording the graph.</summary>
public static class GradMode
{
    [ThreadStatic] private static int _disabled;

    /// <summary>True unless inside a <see cref="Disable"/> scope on this thread.</summary>
    public static bool IsEnabled => _disabled == 0;

    /// <summary>Stops recording until the returned scope is disposed (for sampling, evaluation and backward itself).</summary>
    public static NoGradScope Disable()
    {
        _disabled++;
        return new NoGradScope();
    }

    /// <summary>Records again, inside any <see cref="Disable"/> scopes, until the returned scope is disposed (a custom op's backward that re-runs and differentiates a recorded sub-graph).</summary>
    internal static RecordScope Record()
    {
        var scope = new RecordScope(_disabled);
        _disabled = 0;
        return scope;
    }

    /// <summary>Ends a <see cref="Record"/> scope, restoring the <see cref="Disable"/> scopes it suspended.</summary>
    internal readonly struct RecordScope(int disabled) : IDisposable
    {
        /// <summary>Stops recording again (if it was disabled before).</summary>
        public void Dispose() => _disabled = disabled;
    }

    /// <summary>Ends a <see cref="Disable"/> scope.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        /// <summary>Re-enables recording (if no outer scope remains).</summary>
        public void Dispose() => _disabled--;
    }
}
