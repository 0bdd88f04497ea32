namespace NormalizingFlows.Cli;

/// <summary>A synchronous progress sink that calls <paramref name="report"/> on the reporting thread (System.Progress posts to the thread pool).</summary>
internal sealed class CallbackProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
