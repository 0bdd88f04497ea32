namespace NormalizingFlows.Cli;

/// <summary>A usage error found after parsing (an option's value out of range); exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
