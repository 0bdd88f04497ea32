namespace NormalizingFlows.Transforms;

/// <summary>How a conditioner's output layer is initialised (see <see cref="ConditionerOptions.OutputInit"/>).</summary>
public enum ConditionerOutputInit
{
    /// <summary>Zero weights, identity bias: exactly the identity at the start.</summary>
    Identity,
    /// <summary>Default random weights, identity bias: near the identity, learns from the first step.</summary>
    Random,
}
