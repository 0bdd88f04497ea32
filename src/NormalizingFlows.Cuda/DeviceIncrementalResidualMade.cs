namespace NormalizingFlows.Cuda;

/// <summary>
/// The incremental sampler of the residual MADE (Nn/Made with residual blocks; the CPU's IncrementalMade has no such
/// variant and samples it with D full passes). Its blocks keep one row of hidden degrees, so position k of the order
/// again needs the hidden units of degree ≤ k only and adds those of degree exactly k: per block and per k, with the
/// units permuted by degree and the activations kept transposed ([units, N]), h₀[k] = W_in[k]·[x; c] + b_in[k],
/// a_b[k] = act(h_b[k]), u_b[k] = act(W₁[k]·a_b + b₁[k]), h_{b+1}[k] = h_b[k] + W₂[k]·u_b + b₂[k] (the rows of degree k
/// against all columns: the masked ones are 0, the units not yet computed hold 0), then the feature's m parameters
/// from [h_B; c] and the elementwise inverse of its column. The permuted weights are gathered at every call.
/// Built only when every mask follows the degrees (<see cref="TryCreate"/>).
/// </summary>
internal sealed class DeviceIncrementalResidualMade : DeviceIncrementalSampler
{
    private readonly int _blocks, _kept;
    private readonly int[] _start;               // degree 0 … D: block starts among the kept units

    // layers L_in, per block L₁ and L₂, L_out; activations xᵀ [D + C], h_0 … h_B (h_B with the context after), a_0 …, u_0 …
    private DeviceIncrementalResidualMade(ComputeDevice dev, int d, int c, int m, int activation, DeviceLinear[] layers, int[] featureAt, int[] start, int[] kept)
        : base(dev, d, c, m, activation, layers, featureAt, RowPerm(layers, d, m, kept), ColPerm(layers, d, c, kept), Widths(d, c, (layers.Length - 2) / 2, kept.Length))
    {
        _start = start;
        _blocks = (layers.Length - 2) / 2;
        _kept = kept.Length;
    }

    private static int[] Widths(int d, int c, int blocks, int kept)
        => [d + c, .. Enumerable.Range(0, blocks + 1).Select(b => kept + (b == blocks ? c : 0)), .. Enumerable.Repeat(kept, 2 * blocks)];

    private static int[][] RowPerm(DeviceLinear[] layers, int d, int m, int[] kept)
        => [.. Enumerable.Range(0, layers.Length).Select(l => l == layers.Length - 1 ? Enumerable.Range(0, d * m).ToArray() : kept)];

    private static int[][] ColPerm(DeviceLinear[] layers, int d, int c, int[] kept)
        => [.. Enumerable.Range(0, layers.Length).Select(l => l == 0 ? Enumerable.Range(0, d + c).ToArray()
            : l == layers.Length - 1 ? [.. kept, .. Enumerable.Range(layers[0].Out, c)] : kept)];

    /// <summary>
    /// The sampler of a residual MADE's device layers (L_in over [x, c], per block L₁ and L₂, L_out over [h, c]), or
    /// null when a mask does not follow the one row of hidden degrees: unit o reads input j only when deg(j) ≤ deg(o)
    /// (the context always), block units read units of degree ≤ their own, the output of a feature of input degree p
    /// reads units of degree &lt; p (and the context).
    /// </summary>
    public static DeviceIncrementalResidualMade? TryCreate(ComputeDevice dev, DeviceLinear[] layers, IReadOnlyList<Tensors.Tensor<float>?> masks,
        int[] inputDegrees, int[] hiddenDegrees, int contextFeatures, int parametersPerFeature, int activation)
    {
        int d = inputDegrees.Length, c = contextFeatures, m = parametersPerFeature, h = hiddenDegrees.Length;
        if (layers.Length < 2 || layers.Length % 2 != 0 || masks.Count != layers.Length || masks.Any(k => k is null)) return null;
        if (layers[0].In != d + c || layers[0].Out != h || layers[^1].Out != d * m || layers[^1].In != h + c) return null;
        if (FeatureOrder(inputDegrees) is not { } featureAt) return null;
        for (int l = 0; l < layers.Length; l++)
        {
            var mask = masks[l]!;
            bool first = l == 0, last = l == layers.Length - 1;
            int outs = layers[l].Out, ins = layers[l].In, own = first ? d : h;
            if (mask.Rank != 2 || mask.Dim(0) != outs || mask.Dim(1) != ins || (!first && !last && (ins != h || outs != h))) return null;
            var below = first ? inputDegrees : hiddenDegrees;
            var ms = mask.ReadOnlySpan;
            for (int o = 0; o < outs; o++)
            {
                int degree = last ? inputDegrees[o / m] : hiddenDegrees[o];
                for (int i = 0; i < own; i++)
                    if (ms[o * ins + i] != 0 && (last ? below[i] >= degree : below[i] > degree)) return null;
            }
        }
        var kept = Enumerable.Range(0, h).Where(i => hiddenDegrees[i] >= 0 && hiddenDegrees[i] < d).OrderBy(i => hiddenDegrees[i]).ThenBy(i => i).ToArray();
        var start = new int[d + 1];
        foreach (int i in kept) start[hiddenDegrees[i] + 1]++;
        for (int g = 0; g < d; g++) start[g + 1] += start[g];
        return new DeviceIncrementalResidualMade(dev, d, c, m, activation, layers, featureAt, start, kept);
    }

    private DeviceTensor H(int b) => _act[1 + b];
    private DeviceTensor A(int b) => _act[2 + _blocks + b];
    private DeviceTensor U(int b) => _act[2 + 2 * _blocks + b];

    /// <inheritdoc/>
    public override void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceUpdate update)
    {
        int n = y.Rows;
        if (n == 0) return;
        Prepare(n);
        if (context is not null)
        {
            DeviceOps.Transpose(context, _act[0].RowRange(_d, _c));
            DeviceOps.Transpose(context, H(_blocks).RowRange(_kept, _c));
        }
        DeviceOps.Fill(x, 0);
        for (int k = 0; k < _d; k++)
        {
            int first = _start[k], count = _start[k + 1] - first;
            if (count > 0)
            {
                var h0 = H(0).RowRange(first, count);
                DeviceOps.Gemm(_w[0].RowRange(first, count), false, _act[0], false, h0, count, n, _d + _c);
                DeviceActivationOps.BiasRows(h0, _b[0].RowRange(first, count), DeviceActivation.None);
                for (int b = 0; b < _blocks; b++)
                {
                    var hb = H(b).RowRange(first, count);
                    DeviceActivationOps.Activate(hb, A(b).RowRange(first, count), _activation);
                    var u = U(b).RowRange(first, count);
                    DeviceOps.Gemm(_w[1 + 2 * b].RowRange(first, count), false, A(b), false, u, count, n, _kept);
                    DeviceActivationOps.BiasRows(u, _b[1 + 2 * b].RowRange(first, count), _activation);
                    var next = H(b + 1).RowRange(first, count);
                    DeviceOps.Gemm(_w[2 + 2 * b].RowRange(first, count), false, U(b), false, next, count, n, _kept);
                    DeviceActivationOps.BiasRows(next, _b[2 + 2 * b].RowRange(first, count), DeviceActivation.None);
                    DeviceOps.Add(next, hb);
                }
            }
            InvertFeature(k, H(_blocks), y, x, update);
        }
    }
}
