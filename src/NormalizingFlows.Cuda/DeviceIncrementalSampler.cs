namespace NormalizingFlows.Cuda;

/// <summary>A MAF layer's sampler in about one MADE pass of work (<see cref="DeviceIncrementalMade"/>, <see cref="DeviceIncrementalResidualMade"/>).</summary>
internal interface IIncrementalMade : IDisposable
{
    /// <summary>x = τ⁻¹(y; θ(x, c)) for y [N, D] into x [N, D], the context [N, C] (null without one).</summary>
    void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceUpdate update);
}

/// <summary>
/// What the incremental samplers share: the device layers with their rows (kept hidden units, by degree) and columns
/// permuted into gathered copies at every call (the weights may have trained), the transposed activations [width, N]
/// over buffers kept for the largest N seen, and one feature's θ [N, m], y, x and log|det| columns.
/// </summary>
internal abstract class DeviceIncrementalSampler : IIncrementalMade
{
    protected readonly ComputeDevice _dev;
    protected readonly int _d, _c, _m, _activation; // _activation: the hidden units' DeviceActivation code
    protected readonly DeviceLinear[] _layers;
    protected readonly int[] _featureAt;           // position → feature
    protected readonly DeviceIndex[] _rowPerm, _colPerm; // per layer: the rows (kept units by degree; outputs as they are) and columns (the layer below's permutation, context after)
    private readonly DeviceIndex _zero;            // [0]: the one column of a bias
    protected readonly DeviceTensor[] _w, _b;      // permuted weights [rows, cols] and biases [rows, 1]
    private readonly int[] _widths;                // rows of each transposed activation
    private DeviceTensor[] _buffers = [];          // the activations' storage for the largest N seen
    protected DeviceTensor[] _act = [];            // the activations: views over the first elements of the buffers
    protected readonly DeviceWorkspace _step;      // θ of one feature [N, m], its y, x and log|det| columns [N, 1]

    protected DeviceIncrementalSampler(ComputeDevice dev, int d, int c, int m, int activation, DeviceLinear[] layers, int[] featureAt, int[][] rowPerm, int[][] colPerm, int[] widths)
    {
        (_dev, _d, _c, _m, _activation, _layers, _featureAt, _widths) = (dev, d, c, m, activation, layers, featureAt, widths);
        _rowPerm = rowPerm.Select(p => new DeviceIndex(dev, p)).ToArray();
        _colPerm = colPerm.Select(p => new DeviceIndex(dev, p)).ToArray();
        _zero = new DeviceIndex(dev, [0]);
        _w = rowPerm.Select((p, l) => DeviceTensor.Zeros(dev, p.Length, colPerm[l].Length)).ToArray();
        _b = rowPerm.Select(p => DeviceTensor.Zeros(dev, p.Length, 1)).ToArray();
        _step = new DeviceWorkspace(dev, m, 1, 1, 1);
    }

    /// <inheritdoc/>
    public abstract void Inverse(DeviceTensor y, DeviceTensor? context, DeviceTensor x, DeviceUpdate update);

    /// <summary>Gathers the permuted weights and biases, sizes the activations for <paramref name="n"/> rows and zeroes them.</summary>
    protected void Prepare(int n)
    {
        for (int l = 0; l < _layers.Length; l++)
        {
            DeviceOps.Gather2D(_layers[l].W, _w[l], _rowPerm[l], _colPerm[l]);
            DeviceOps.Gather2D(_layers[l].B, _b[l], _rowPerm[l], _zero);
        }
        if (_buffers.Length == 0 || _buffers[0].Cols < n)
        {
            foreach (var t in _buffers) t.Dispose();
            _buffers = _widths.Select(w => DeviceTensor.Zeros(_dev, w, n)).ToArray();
            _act = [];
        }
        if (_act.Length == 0 || _act[0].Cols != n) _act = _buffers.Select((b, l) => b.Reshaped(_widths[l], n)).ToArray();
        _step.Prepare(n);
        foreach (var a in _act) DeviceOps.Fill(a, 0);
    }

    /// <summary>
    /// Position <paramref name="k"/>'s feature: its m parameters θ [N, m] from the last hidden activations
    /// <paramref name="h"/> (with the context rows) by the output layer's rows of that feature, the elementwise inverse
    /// of its column of <paramref name="y"/> into <paramref name="x"/>, and that column into xᵀ for the next positions.
    /// </summary>
    protected void InvertFeature(int k, DeviceTensor h, DeviceTensor y, DeviceTensor x, DeviceUpdate update)
    {
        int f = _featureAt[k], n = y.Rows, output = _layers.Length - 1;
        DeviceTensor theta = _step[0], yf = _step[1], xf = _step[2], ld = _step[3];
        DeviceOps.Gemm(h, true, _w[output].RowRange(f * _m, _m), true, theta, n, _m, h.Rows);
        DeviceOps.BiasActivation(theta, _b[output].RowRange(f * _m, _m), relu: false);
        DeviceOps.CopyColumn(y, f, yf, 0);
        update.Column(f).Apply(yf, theta, xf, ld, inverse: true);
        DeviceOps.CopyColumn(xf, 0, x, f);
        DeviceOps.Scale(_act[0].RowRange(f, 1), xf, 1); // xᵀ row f
    }

    /// <summary>Position → feature from the MADE's input degrees 1 … D (null when they are not a permutation of 1 … D).</summary>
    protected static int[]? FeatureOrder(int[] inputDegrees)
    {
        int d = inputDegrees.Length;
        var featureAt = new int[d];
        var seen = new bool[d];
        for (int j = 0; j < d; j++)
        {
            int g = inputDegrees[j];
            if (g < 1 || g > d || seen[g - 1]) return null;
            seen[g - 1] = true;
            featureAt[g - 1] = j;
        }
        return featureAt;
    }

    public void Dispose()
    {
        foreach (var i in _rowPerm.Concat(_colPerm)) i.Dispose();
        _zero.Dispose();
        foreach (var t in _w.Concat(_b)) t.Dispose();
        foreach (var t in _buffers) t.Dispose();
        _step.Dispose();
    }
}
