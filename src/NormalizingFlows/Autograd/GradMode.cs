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

    /// <summary>Ends a <see cref="Disable"/> scope.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        /// <summary>Re-enables recording (if no outer scope remains).</summary>
        public void Dispose() => _disabled--;
    }
}
