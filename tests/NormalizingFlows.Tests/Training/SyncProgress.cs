namespace NormalizingFlows.Tests.Training;

/// <summary>Reports synchronously on the training thread (System.Progress posts to the thread pool), so a test can cancel at an exact step.</summary>
internal sealed class SyncProgress<TValue>(Action<TValue> action) : IProgress<TValue>
{
    public void Report(TValue value) => action(value);
}
