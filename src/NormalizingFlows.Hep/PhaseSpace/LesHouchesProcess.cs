namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>One process line of the init block: XSECUP XERRUP XMAXUP LPRUP.</summary>
/// <param name="CrossSection">XSECUP, the cross section in pb.</param>
/// <param name="Error">XERRUP, its statistical error in pb.</param>
/// <param name="MaxWeight">XMAXUP, the maximum event weight.</param>
/// <param name="ProcessId">LPRUP, the process id used in the events' IDPRUP.</param>
public sealed record LesHouchesProcess(double CrossSection, double Error, double MaxWeight, int ProcessId);
