namespace NormalizingFlows.Cuda;

/// <summary>A fixed feature permutation on the device (Transforms/Permutation): y[:, j] = x[:, order[j]], log|det| 0, nothing to train.</summary>
internal sealed class DevicePermutation(ComputeDevice dev, int[] order) : IDeviceLayer
{
    private readonly DeviceIndex _order = new(dev, order), _inverse = new(dev, Inverted(order));

    private static int[] Inverted(int[] order)
    {
        var inverse = new int[order.Length];
        for (int j = 0; j < order.Length; j++) inverse[order[j]] = j;
        return inverse;
    }

    public DeviceNetwork? Network => null;

    public void Forward(DeviceTensor x, DeviceTensor? context, DeviceTensor y, DeviceTensor logDet) => DeviceOps.Gather(x, y, _order);

    public void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceTensor? logDet = null) => DeviceOps.Gather(y, x, _inverse);

    // y[:, j] = x[:, order[j]]: gx[:, order[j]] = gy[:, j]
    public void Backward(DeviceTensor x, DeviceTensor gy, DeviceTensor gld, DeviceTensor gx, DeviceTensor? gContext = null) => DeviceOps.Scatter(gy, gx, _order);

    public void Dispose()
    {
        _order.Dispose();
        _inverse.Dispose();
    }
}
