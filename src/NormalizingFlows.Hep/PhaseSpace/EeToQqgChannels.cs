namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>
/// e⁺e⁻ → q q̄ g (<see cref="EeToQqgProcess"/>) as a two-channel integrand: the <see cref="PhaseSpaceChannels"/> of its
/// decay-chain mapping (<see cref="ThreeBodyMultichannelMapping"/>; channel 0: the 1/s₁₃ propagator, 1: 1/s₂₃;
/// features ln y₁₃, ln y₂₃, ln y₁₂).
/// </summary>
public sealed class EeToQqgChannels : PhaseSpaceChannels
{
    /// <summary>Wraps <paramref name="process"/>, which must use the decay-chain mapping (<see cref="PhaseSpaceMappingKind.Angles"/>).</summary>
    public EeToQqgChannels(EeToQqgProcess process) : base(Checked(process)) => Process = process;

    /// <summary>The process.</summary>
    public new EeToQqgProcess Process { get; }

    static EeToQqgProcess Checked(EeToQqgProcess process)
    {
        ArgumentNullException.ThrowIfNull(process);
        return process.Mapping is ThreeBodyMultichannelMapping ? process
            : throw new ArgumentException($"the multichannel integrand needs the decay-chain mapping, not {process.MappingKind}", nameof(process));
    }
}
