namespace NormalizingFlows.Training;

/// <summary>
/// The six mean-squared errors of the CaloFlow v2 distillation loss for one step (each averaged over its elements; the
/// intermediate and parameter terms summed over layers).
/// </summary>
/// <param name="Z">z-pass: MSE(z, z′) between the base draw z and the teacher's density pass of the student's sample.</param>
/// <param name="X">x-pass: MSE(x, x′) between the data x and the student's sample from the teacher's z.</param>
/// <param name="IntermediateZ">z-pass: Σ over inner layer boundaries of MSE(zᵢ, zᵢ′).</param>
/// <param name="IntermediateX">x-pass: Σ over inner layer boundaries of MSE(xᵢ, xᵢ′).</param>
/// <param name="ParametersZ">z-pass: Σ over layers of MSE(θ, θ′) of the elementwise maps.</param>
/// <param name="ParametersX">x-pass: Σ over layers of MSE(θ, θ′).</param>
public sealed record DistillationLoss(double Z, double X, double IntermediateZ, double IntermediateX, double ParametersZ, double ParametersX)
{
    /// <summary>The sum of the six terms (the loss that is minimised).</summary>
    public double Total => Z + X + IntermediateZ + IntermediateX + ParametersZ + ParametersX;
}
