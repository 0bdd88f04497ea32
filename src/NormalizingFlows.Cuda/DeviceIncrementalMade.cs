namespace NormalizingFlows.Cuda;

/// <summary>
/// The MAF's sampling direction on the device in about one MADE pass of work (the device counterpart of
/// Nn/IncrementalMade): position k of the order needs the hidden units of degree ≤ k only, and of those only the units
/// of degree exactly k are new since step k − 1. Hidden units are permuted so that each degree is a contiguous block
/// and their activations are kept transposed ([units, N]), so step k is, per hidden layer, one GEMM of the layer's
/// weight rows of degree k (all columns: the masked ones are 0, the units not yet computed hold 0) with the layer
/// below, then the feature's m parameters from the last layer (and the context), then the elementwise inverse of that
/// one column. The permuted weights are gathered from the device weights at every call (they may have trained).
/// Built only when every mask follows the MADE's degrees (<see cref="TryCreate"/>); otherwise the layer keeps its
/// D full passes.
/// </summary>
internal sealed class DeviceIncrementalMade : DeviceIncrementalSampler
{
    private readonly int[][] _start;             // [hidden layer][degree 0 … D] block starts among its kept units

    // activations: xᵀ [D + C, N], then each hidden layer's kept units hᵀ [width, N] (the last with the context after)
    private DeviceIncrementalMade(ComputeDevice dev, int d, int c, int m, DeviceLinear[] layers, int[] featureAt, int[][] start, int[][] rowPerm, int[][] colPerm, int activation)
        : base(dev, d, c, m, activation, layers, featureAt, rowPerm, colPerm,
            [d + c, .. Enumerable.Range(0, layers.Length - 1).Select(l => rowPerm[l].Length + (l == layers.Length - 2 ? c : 0))])
        => _start = start;

    /// <summary>
    /// The incremental sampler of a MADE's device layers (hidden layers, then the output layer over [h, context]), or
    /// null when a mask does not follow the degrees: hidden unit i of degree g reads input j only when
    /// deg(j) ≤ g (inputs: position + 1, context: always), the output of a feature of input degree p reads hidden units of
    /// degree &lt; p (and the context).
    /// </summary>
    public static DeviceIncrementalMade? TryCreate(ComputeDevice dev, DeviceLinear[] layers, IReadOnlyList<Tensors.Tensor<float>?> masks,
        int[] inputDegrees, IReadOnlyList<int[]> hiddenDegrees, int contextFeatures, int parametersPerFeature, int activation = DeviceActivation.Relu)
    {
        int d = inputDegrees.Length, c = contextFeatures, m = parametersPerFeature, hidden = layers.Length - 1;
        if (hidden < 1 || hiddenDegrees.Count != hidden || masks.Count != layers.Length || masks.Any(k => k is null)) return null;
        if (layers[^1].Out != d * m || layers[^1].In != layers[^2].Out + c || layers[0].In != d + c) return null;
        if (FeatureOrder(inputDegrees) is not { } featureAt) return null;
        // masks against the degrees (the incremental order is exact only then)
        int[] below = inputDegrees;
        for (int l = 0; l <= hidden; l++)
        {
            var mask = masks[l]!;
            int outs = layers[l].Out, ins = layers[l].In, own = ins - (l == 0 || l == hidden ? c : 0);
            if (mask.Rank != 2 || mask.Dim(0) != outs || mask.Dim(1) != ins || (l < hidden && hiddenDegrees[l].Length != outs)) return null;
            var ms = mask.ReadOnlySpan;
            for (int o = 0; o < outs; o++)
            {
                int degree = l < hidden ? hiddenDegrees[l][o] : inputDegrees[o / m];
                for (int i = 0; i < own; i++)
                    if (ms[o * ins + i] != 0 && (l < hidden ? below[i] > degree : below[i] >= degree)) return null;
            }
            if (l < hidden) below = hiddenDegrees[l];
        }
        // kept hidden units (degree 0 … D − 1) sorted by degree; the output rows as they are (feature-major)
        var start = new int[hidden][];
        var rowPerm = new int[hidden + 1][];
        var colPerm = new int[hidden + 1][];
        for (int l = 0; l < hidden; l++)
        {
            var deg = hiddenDegrees[l];
            var kept = Enumerable.Range(0, deg.Length).Where(i => deg[i] >= 0 && deg[i] < d).OrderBy(i => deg[i]).ThenBy(i => i).ToArray();
            var s = new int[d + 1];
            foreach (int i in kept) s[deg[i] + 1]++;
            for (int g = 0; g < d; g++) s[g + 1] += s[g];
            start[l] = s;
            rowPerm[l] = kept;
        }
        rowPerm[hidden] = Enumerable.Range(0, d * m).ToArray();
        colPerm[0] = Enumerable.Range(0, d + c).ToArray();
        for (int l = 1; l <= hidden; l++)
            colPerm[l] = [.. rowPerm[l - 1], .. l == hidden ? Enumerable.Range(layers[l - 1].Out, c) : []];
        return new DeviceIncrementalMade(dev, d, c, m, layers, featureAt, start, rowPerm, colPerm, activation);
    }

    /// <summary>x = τ⁻¹(y; θ(x, c)) for y [N, D] into x [N, D], the context [N, C] (null without one).</summary>
    public override void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceUpdate update)
    {
        int n = y.Rows, hidden = _layers.Length - 1;
        if (n == 0) return;
        Prepare(n);
        if (context is not null)
        {
            DeviceOps.Transpose(context, _act[0].RowRange(_d, _c));
            var last = _act[hidden];
            DeviceOps.Transpose(context, last.RowRange(last.Rows - _c, _c));
        }
        DeviceOps.Fill(x, 0);
        for (int k = 0; k < _d; k++)
        {
            // the hidden units of degree k, layer by layer, from everything below (units not computed yet hold 0 and are masked)
            for (int l = 0; l < hidden; l++)
            {
                int first = _start[l][k], count = _start[l][k + 1] - first;
                if (count == 0) continue;
                var below = _act[l];
                int width = l == 0 ? _d + _c : _rowPerm[l - 1].Length;
                var block = _act[l + 1].RowRange(first, count);
                DeviceOps.Gemm(_w[l].RowRange(first, count), false, below, false, block, count, n, width);
                DeviceActivationOps.BiasRows(block, _b[l].RowRange(first, count), _activation);
            }
            // the feature's parameters θ [N, m] = hᵀᵀ·W[rows of f]ᵀ + b, then its one column of the inverse
            InvertFeature(k, _act[hidden], y, x, update);
        }
    }
}
