using NormalizingFlows.Autograd;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Cuda;

/// <summary>
/// The flow layers without a conditioner network that the device runs between the conditioned ones: ActNorm and
/// the LU-decomposed linear map (Glow's), the planar and radial maps (parameters of their own, trained as
/// <see cref="DeviceParameter"/>s), batch normalisation (<see cref="DeviceBatchNorm"/>: also running averages) and
/// fixed permutations.
/// </summary>
internal static class DeviceParameterLayers
{
    /// <summary>Whether <paramref name="step"/> is one of these layers.</summary>
    public static bool Handles(Transform<float> step) => step is ActNorm<float> or LuLinear<float> or Permutation<float> or Planar<float> or Radial<float> or BatchNormTransform<float>;

    /// <summary>The device layer of <paramref name="step"/>; null when it is not one of these layers. A frozen compile (a distillation's teacher) refuses them by name.</summary>
    public static IDeviceLayer? Compile(Transform<float> step, ComputeDevice dev, bool frozen)
    {
        if (!Handles(step)) return null;
        if (frozen && step is not Permutation<float>)
            throw new NotSupportedException($"DeviceFlow: the transform {step.GetType().Name[..step.GetType().Name.IndexOf('`')]} is not supported in a frozen flow (a distillation's teacher)");
        return step switch
        {
            ActNorm<float> a => new DeviceActNorm(dev, a),
            LuLinear<float> lu => new DeviceLuLinear(dev, lu),
            Permutation<float> p => new DevicePermutation(dev, [.. p.Order]),
            Planar<float> p => new DevicePlanar(dev, p),
            Radial<float> r => new DeviceRadial(dev, r),
            BatchNormTransform<float> b => new DeviceBatchNorm(dev, b),
            _ => null,
        };
    }

    /// <summary>The trainable parameters of <paramref name="step"/> in the order its device layer lists them (none for other steps).</summary>
    public static IReadOnlyList<Parameter<float>> HostParameters(Transform<float> step) => step switch
    {
        ActNorm<float> a => [a.LogScale, a.Shift],
        LuLinear<float> lu => [lu.Lower, lu.Upper, lu.LogAbsDiag, lu.Bias],
        Planar<float> p => [p.U, p.W, p.B],
        Radial<float> r => [r.Z0, r.AlphaHat, r.BetaHat],
        BatchNormTransform<float> b => [b.LogGamma, b.Beta],
        // a ResidualNet conditioner's batch norms (per block bn0's weight and bias, then bn1's), then a UMNN update's integrand network (DeviceUmnn)
        _ => [.. DeviceFlowLayers.BatchNormsOf(step).SelectMany(p => new[] { p.Bn0.Weight!, p.Bn0.Bias!, p.Bn1.Weight!, p.Bn1.Bias! }),
            .. DeviceFlowLayers.IntegrandOf(step)?.Parameters() ?? []],
    };

    /// <summary>Each device parameter of <paramref name="layers"/> beside the host parameter of <paramref name="steps"/> (same architecture).</summary>
    public static List<(Parameter<float> Host, DeviceParameter Device)> Pairs(IReadOnlyList<Transform<float>> steps, IReadOnlyList<IDeviceLayer> layers)
    {
        if (steps.Count != layers.Count) throw new ArgumentException($"DeviceFlow: the flow has {steps.Count} layers, the device flow {layers.Count}");
        var pairs = new List<(Parameter<float>, DeviceParameter)>();
        for (int l = 0; l < steps.Count; l++)
        {
            var hosts = HostParameters(steps[l]);
            var device = layers[l].Parameters;
            if (hosts.Count != device.Count) throw new ArgumentException($"DeviceFlow: layer {l} has {hosts.Count} parameters outside networks on the host, {device.Count} on the device");
            for (int i = 0; i < hosts.Count; i++)
            {
                if (hosts[i].Value.Length != device[i].Length)
                    throw new ArgumentException($"DeviceFlow: a parameter of layer {l} has {hosts[i].Value.Length} values on the host, {device[i].Length} on the device");
                pairs.Add((hosts[i], device[i]));
            }
        }
        return pairs;
    }

    /// <summary>Writes the device parameters into the host steps (an ActNorm initialised on the device is marked initialised on the host; batch norm's running averages too).</summary>
    public static void CopyTo(IReadOnlyList<Transform<float>> steps, IReadOnlyList<IDeviceLayer> layers)
    {
        foreach (var (host, device) in Pairs(steps, layers)) device.CopyTo(host);
        for (int l = 0; l < steps.Count; l++)
        {
            if (steps[l] is ActNorm<float> a && layers[l] is DeviceActNorm d) d.CopyTo(a);
            if (steps[l] is BatchNormTransform<float> b && layers[l] is DeviceBatchNorm bn) bn.CopyTo(b);
            var hosts = DeviceFlowLayers.BatchNormsOf(steps[l]).SelectMany(p => new[] { p.Bn0, p.Bn1 }).ToList();
            var devices = layers[l].Network?.BatchNorms ?? [];
            if (hosts.Count != devices.Count) throw new ArgumentException($"DeviceFlow: layer {l} has {hosts.Count} batch norms in its conditioner on the host, {devices.Count} on the device");
            for (int i = 0; i < hosts.Count; i++) devices[i].CopyTo(hosts[i]);
        }
    }
}
