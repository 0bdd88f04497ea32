namespace NormalizingFlows.Hep;

/// <summary>Physics applications built on the NormalizingFlows library.</summary>
internal static class AssemblyInfo
{
}
