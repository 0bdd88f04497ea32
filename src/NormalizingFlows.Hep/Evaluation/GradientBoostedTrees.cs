using System.Runtime.InteropServices;
using NormalizingFlows.Tensors;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// A binary gradient-boosted decision-tree classifier (histogram GBDT, managed): each feature is cut into up to
/// <see cref="GradientBoostedTreesOptions.MaxBins"/> quantile bins (a value holding more than 1/MaxBins of the events
/// gets a bin of its own, so discrete and spiky features keep their atoms; with few distinct values every value is
/// its own bin), and each boosting round fits one tree to the gradients of the logistic loss by Newton steps:
/// splits maximise G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ), leaves take −G/(H + λ) times the shrinkage, trees
/// grow best-first up to MaxLeaves leaves. Histograms are built per feature over the leaf's rows (features in
/// parallel on the <see cref="WorkerPool"/>) and the larger child's histogram is the parent's minus the smaller's.
/// <para>
/// Event weights multiply the gradient g = w(p − y); the Hessian uses |w|·p(1 − p), so negative weights (HEP event
/// weights) keep every Newton step's denominator positive. The output logit z estimates log[p₊(x)/p₋(x)] plus the
/// log prior odds (0 with class balancing). NaN features are rejected (the error names the feature and event).
/// Data are columns: <c>columns[j][i]</c> is feature j of event i.
/// </para>
/// </summary>
public sealed class GradientBoostedTrees
{
    // all trees' nodes in flat arrays; a child index c ≥ 0 is a node, c < 0 the leaf ~c
    private readonly int[] _feature, _left, _right, _roots;
    private readonly double[] _threshold, _leafValue;
    private readonly double _initial;

    private GradientBoostedTrees(int features, double initial, int[] roots, int[] feature, double[] threshold, int[] left, int[] right, double[] leafValue)
    {
        Features = features; _initial = initial; _roots = roots;
        _feature = feature; _threshold = threshold; _left = left; _right = right; _leafValue = leafValue;
    }

    /// <summary>Number of input features.</summary>
    public int Features { get; }

    /// <summary>Number of trees.</summary>
    public int TreeCount => _roots.Length;

    /// <summary>Number of leaves over all trees.</summary>
    public int LeafCount => _leafValue.Length;

    /// <summary>Trains on the events <paramref name="rows"/> (all when null) of <paramref name="columns"/>, with optional per-event <paramref name="weights"/>.</summary>
    public static GradientBoostedTrees Fit(double[][] columns, bool[] labels, double[]? weights, GradientBoostedTreesOptions? options = null, IReadOnlyList<int>? rows = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        options ??= new GradientBoostedTreesOptions();
        options.Validate();
        int n = MlpClassifier.CheckColumns(columns, labels.Length);
        if (weights is not null && weights.Length != n) throw new ArgumentException($"{weights.Length} weights for {n} events");
        var all = rows?.ToArray() ?? Enumerable.Range(0, n).ToArray();
        foreach (int i in all)
            if ((uint)i >= (uint)n) throw new ArgumentOutOfRangeException(nameof(rows), i, $"row index outside [0, {n})");
        var rng = new Rng(options.Seed);
        // stratified hold-out for early stopping
        var pos = all.Where(i => labels[i]).ToArray();
        var neg = all.Where(i => !labels[i]).ToArray();
        if (pos.Length == 0 || neg.Length == 0) throw new ArgumentException($"the classifier needs both classes: got {pos.Length} positive and {neg.Length} negative events");
        int vp = (int)Math.Round(pos.Length * options.ValidationFraction), vn = (int)Math.Round(neg.Length * options.ValidationFraction);
        if (vp < 1 || vn < 1 || pos.Length - vp < 1 || neg.Length - vn < 1) { vp = 0; vn = 0; }
        int[] use = all, valid = [];
        if (vp > 0)
        {
            rng.Shuffle(pos.AsSpan()); rng.Shuffle(neg.AsSpan());
            use = [.. pos[vp..], .. neg[vn..]];
            valid = [.. pos[..vp], .. neg[..vn]];
            Array.Sort(use); Array.Sort(valid);
        }
        int m = use.Length, d = columns.Length;
        // loss weights: event weight × class balance, scaled to mean |w| = 1 (so MinLeafHessian has a fixed meaning)
        double wp = 0, wn = 0;
        foreach (int i in all)
            if (weights is not null && !double.IsFinite(weights[i])) throw new ArgumentException($"weight of event {i} is {weights[i]}");
        foreach (int i in use)
        {
            double w = weights?[i] ?? 1;
            if (labels[i]) wp += w; else wn += w;
        }
        if (!(wp > 0) || !(wn > 0)) throw new ArgumentException($"each class needs a positive total weight (got {wp} and {wn})");
        double absSum = 0;
        foreach (int i in use) absSum += Math.Abs(LossWeight(i));
        if (!(absSum > 0)) throw new ArgumentException("all event weights are zero");
        double scale = m / absSum;
        var lw = new double[m];
        var y = new double[m];
        double sp = 0, sn = 0;
        for (int r = 0; r < m; r++)
        {
            int i = use[r];
            lw[r] = LossWeight(i) * scale;
            y[r] = labels[i] ? 1 : 0;
            if (labels[i]) sp += lw[r]; else sn += lw[r];
        }
        double initial = Math.Log(sp / sn);

        var edges = new double[d][];
        var bins = new byte[d][];
        var validBins = new byte[d][];
        for (int j = 0; j < d; j++)
        {
            var col = columns[j];
            foreach (int i in all)
                if (double.IsNaN(col[i])) throw new ArgumentException($"feature {j} of event {i} is NaN");
            edges[j] = BinEdges(col, use, options.MaxBins, options.BinningSampleSize, rng);
            var e = edges[j];
            var b = new byte[m];
            for (int r = 0; r < m; r++) b[r] = (byte)BinOf(e, col[use[r]]);
            bins[j] = b;
            var bv = new byte[valid.Length];
            for (int r = 0; r < valid.Length; r++) bv[r] = (byte)BinOf(e, col[valid[r]]);
            validBins[j] = bv;
        }
        var grower = new TreeGrower(bins, edges, lw, y, options);
        var f = new double[m];
        Array.Fill(f, initial);
        var fv = new double[valid.Length];
        Array.Fill(fv, initial);
        var vw = valid.Select(i => LossWeight(i) * scale).ToArray();
        int bestTrees = 0, nodes = 0, leaves = 0;
        double bestLoss = valid.Length > 0 ? LogLoss(fv, valid, vw, labels) : double.NaN;
        for (int t = 0; t < options.Trees; t++)
        {
            grower.Grow(f);
            if (valid.Length == 0) { bestTrees = t + 1; continue; }
            grower.AddLastTree(validBins, fv);
            double loss = LogLoss(fv, valid, vw, labels);
            if (loss < bestLoss || t == 0) // at least one tree: a constant model would report AUC 0.5 ± 0
            {
                bestLoss = loss; bestTrees = t + 1; nodes = grower.Feature.Count; leaves = grower.LeafValue.Count;
            }
            else if (t + 1 - bestTrees >= options.Patience) break;
        }
        if (valid.Length > 0) grower.Truncate(bestTrees, nodes, leaves);
        return new GradientBoostedTrees(d, initial, grower.Roots.ToArray(), grower.Feature.ToArray(), grower.Threshold.ToArray(),
            grower.Left.ToArray(), grower.Right.ToArray(), grower.LeafValue.ToArray())
        { ValidationLoss = bestLoss };

        double LossWeight(int i)
        {
            double w = weights?[i] ?? 1;
            return options.BalanceClasses ? w * (wp + wn) / (2 * (labels[i] ? wp : wn)) : w;
        }
    }

    /// <summary>Weighted mean logistic loss of logits <paramref name="z"/> of the events <paramref name="rows"/>.</summary>
    private static double LogLoss(double[] z, int[] rows, double[] w, bool[] labels)
    {
        double s = 0, sw = 0;
        for (int k = 0; k < rows.Length; k++)
        {
            double zi = z[k], t = labels[rows[k]] ? 1 : 0;
            s += w[k] * (Math.Max(zi, 0) - zi * t + Math.Log(1 + Math.Exp(-Math.Abs(zi))));
            sw += w[k];
        }
        return s / sw;
    }

    /// <summary>Weighted logistic loss on the held-out events at the kept number of trees (NaN without a hold-out).</summary>
    public double ValidationLoss { get; private init; } = double.NaN;

    /// <summary>The logits z(x) of the events <paramref name="rows"/> (all when null), in that order.</summary>
    public double[] PredictLogits(double[][] columns, IReadOnlyList<int>? rows = null)
    {
        int n = MlpClassifier.CheckColumns(columns, null);
        if (columns.Length != Features) throw new ArgumentException($"{columns.Length} feature columns; the classifier was trained on {Features}");
        var use = rows?.ToArray() ?? Enumerable.Range(0, n).ToArray();
        var z = new double[use.Length];
        for (int k = 0; k < use.Length; k++)
        {
            int i = use[k];
            double s = _initial;
            foreach (int root in _roots)
            {
                int node = root;
                while (node >= 0)
                {
                    double x = columns[_feature[node]][i];
                    if (double.IsNaN(x)) throw new ArgumentException($"feature {_feature[node]} of event {i} is NaN");
                    node = x <= _threshold[node] ? _left[node] : _right[node];
                }
                s += _leafValue[~node];
            }
            z[k] = s;
        }
        return z;
    }

    /// <summary>The probabilities σ(z(x)) of the positive class for the events <paramref name="rows"/> (all when null).</summary>
    public double[] PredictProbabilities(double[][] columns, IReadOnlyList<int>? rows = null) =>
        PredictLogits(columns, rows).Select(MlpClassifier.Sigmoid).ToArray();

    /// <summary>
    /// Upper bin edges of one feature (ascending; bin b holds edge[b − 1] &lt; x ≤ edge[b], the last bin is open):
    /// midpoints between distinct values; with more distinct values than bins, values holding at least 1/maxBins of
    /// the events get their own bin and the rest are cut into bins of about equal count.
    /// </summary>
    internal static double[] BinEdges(double[] column, int[] rows, int maxBins, int sampleSize, Rng rng)
    {
        double[] v;
        if (rows.Length <= sampleSize) v = rows.Select(i => column[i]).ToArray();
        else
        {
            var pick = (int[])rows.Clone();
            rng.Shuffle(pick.AsSpan());
            v = pick.Take(sampleSize).Select(i => column[i]).ToArray();
        }
        Array.Sort(v);
        var distinct = new List<double>();
        var counts = new List<int>();
        for (int k = 0; k < v.Length;)
        {
            int e = k;
            while (e < v.Length && v[e] == v[k]) e++;
            distinct.Add(v[k]); counts.Add(e - k);
            k = e;
        }
        int nd = distinct.Count;
        var edges = new List<double>();
        if (nd <= maxBins)
        {
            for (int k = 0; k + 1 < nd; k++) edges.Add(Mid(distinct[k], distinct[k + 1]));
            return edges.ToArray();
        }
        double bigSize = (double)v.Length / maxBins;
        var big = new bool[nd];
        int bigCount = 0, rest = v.Length;
        for (int k = 0; k < nd; k++)
            if (counts[k] >= bigSize) { big[k] = true; bigCount++; rest -= counts[k]; }
        int binsLeft = Math.Max(1, maxBins - 2 * bigCount); // a big value may cost two edges
        double target = Math.Max(1.0, (double)rest / binsLeft);
        double acc = 0;
        for (int k = 0; k + 1 < nd && edges.Count < maxBins - 1; k++)
        {
            acc += counts[k];
            if (big[k] || big[k + 1] || acc >= target)
            {
                edges.Add(Mid(distinct[k], distinct[k + 1]));
                acc = 0;
            }
        }
        return edges.ToArray();
    }

    /// <summary>An edge e with a ≤ e &lt; b (the midpoint where it is representable, else a).</summary>
    private static double Mid(double a, double b)
    {
        if (double.IsInfinity(a) || double.IsInfinity(b)) return a;
        double m = a + (b - a) / 2;
        if (!double.IsFinite(m)) m = a / 2 + b / 2;
        return m >= a && m < b ? m : a;
    }

    /// <summary>The bin of x: the first edge ≥ x, or the last bin.</summary>
    internal static int BinOf(double[] edges, double x)
    {
        int lo = 0, hi = edges.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (edges[mid] >= x) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    /// <summary>
    /// Grows the trees of one fit; holds the binned data, the gradients and the reusable buffers. Histograms hold
    /// (ΣG, ΣH, count) per bin of every feature. One pass per feature (features split over the worker pool) builds the
    /// smaller child's histogram, turns the parent's into the larger child's by subtraction and scans both for their
    /// best split while the feature's slice is in cache; per-part bests are reduced in feature order, so the result
    /// does not depend on the thread count.
    /// </summary>
    private sealed unsafe class TreeGrower
    {
        private readonly byte[][] _bins;
        private readonly double[][] _edges;
        private readonly double[] _w, _y, _g, _h;
        private readonly float[] _og, _oh;
        private readonly int[] _rows, _tmp, _offset, _active;
        private readonly int _m, _totalBins, _maxSlice;
        private readonly GradientBoostedTreesOptions _o;
        private readonly Stack<float[]> _pool = new();
        public readonly List<int> Roots = [], Feature = [], Left = [], Right = [];
        public readonly List<double> Threshold = [], LeafValue = [];
        private readonly List<int> _nodeBin = [];

        // the job handed to the worker pool: build Small (into SmallHist or scratch), Large = Parent − Small (in
        // ParentHist), scan the splittable ones; per part the best (gain, feature, bin) of each
        private Leaf? _jobSmall, _jobLarge;
        private float[]? _jobParentHist;
        private bool _jobScanSmall, _jobScanLarge;
        private int _jobParts;
        private readonly float[][] _scratch = new float[64][];
        private readonly (double Gain, int Feature, int Bin)[] _bestSmall = new (double, int, int)[64], _bestLarge = new (double, int, int)[64];

        private sealed class Leaf
        {
            public int Start, Count, Depth;
            public double G, H;
            public float[]? Hist;
            public int Parent = -1; // node index whose child this leaf is (−1: root)
            public bool IsLeft;
            // best split
            public int Feature = -1, Bin;
            public double Gain;
        }

        public TreeGrower(byte[][] bins, double[][] edges, double[] w, double[] y, GradientBoostedTreesOptions o)
        {
            _bins = bins; _edges = edges; _w = w; _y = y; _o = o;
            _m = w.Length;
            _g = new double[_m]; _h = new double[_m]; _og = new float[_m]; _oh = new float[_m];
            _rows = new int[_m]; _tmp = new int[_m];
            _offset = new int[bins.Length];
            var active = new List<int>();
            int total = 0, maxSlice = 1;
            for (int j = 0; j < bins.Length; j++)
            {
                _offset[j] = total;
                total += edges[j].Length + 1;
                maxSlice = Math.Max(maxSlice, edges[j].Length + 1);
                if (edges[j].Length > 0) active.Add(j);
            }
            _totalBins = total;
            _maxSlice = maxSlice;
            _active = active.ToArray();
        }

        private bool Splittable(Leaf l) => l.Count >= 2 * _o.MinLeafSize && (_o.MaxDepth <= 0 || l.Depth < _o.MaxDepth);

        public void Grow(double[] f)
        {
            for (int r = 0; r < _m; r++)
            {
                double p = MlpClassifier.Sigmoid(f[r]);
                _g[r] = _w[r] * (p - _y[r]);
                _h[r] = Math.Abs(_w[r]) * p * (1 - p);
                _rows[r] = r;
            }
            var root = new Leaf { Start = 0, Count = _m };
            for (int r = 0; r < _m; r++) { root.G += _g[r]; root.H += _h[r]; }
            if (Splittable(root)) Histograms(root, null, null, scanSmall: true, scanLarge: false);
            var leaves = new List<Leaf> { root };
            int rootNode = int.MinValue;
            while (leaves.Count < _o.MaxLeaves)
            {
                Leaf? best = null;
                foreach (var l in leaves)
                    if (l.Feature >= 0 && (best is null || l.Gain > best.Gain)) best = l;
                if (best is null) break;
                // the node replacing the leaf
                int node = Feature.Count;
                Feature.Add(best.Feature);
                Threshold.Add(_edges[best.Feature][best.Bin]);
                _nodeBin.Add(best.Bin);
                Left.Add(0); Right.Add(0);
                if (best.Parent < 0) rootNode = node;
                else if (best.IsLeft) Left[best.Parent] = node; else Right[best.Parent] = node;
                var (left, right) = Split(best);
                left.Parent = right.Parent = node;
                left.IsLeft = true;
                leaves.Remove(best);
                leaves.Add(left); leaves.Add(right);
                var (small, large) = left.Count <= right.Count ? (left, right) : (right, left);
                // the children of the last split are never split: no histograms for them
                bool last = leaves.Count >= _o.MaxLeaves;
                bool scanSmall = !last && Splittable(small), scanLarge = !last && Splittable(large);
                if (scanSmall || scanLarge) Histograms(small, large, best.Hist!, scanSmall, scanLarge);
                if (scanLarge) { large.Hist = best.Hist; best.Hist = null; }
                if (best.Hist is not null) { _pool.Push(best.Hist); best.Hist = null; }
            }
            foreach (var l in leaves)
            {
                double v = -l.G / (l.H + _o.L2) * _o.LearningRate;
                if (!double.IsFinite(v)) v = 0; // H + λ = 0 only when every weight of the leaf is zero
                int leaf = LeafValue.Count;
                LeafValue.Add(v);
                if (l.Parent < 0) rootNode = ~leaf;
                else if (l.IsLeft) Left[l.Parent] = ~leaf; else Right[l.Parent] = ~leaf;
                for (int k = l.Start; k < l.Start + l.Count; k++) f[_rows[k]] += v;
                if (l.Hist is not null) { _pool.Push(l.Hist); l.Hist = null; }
            }
            Roots.Add(rootNode);
        }

        /// <summary>Adds the last tree's output to the logits <paramref name="f"/> of binned events.</summary>
        public void AddLastTree(byte[][] bins, double[] f)
        {
            int root = Roots[^1];
            for (int r = 0; r < f.Length; r++)
            {
                int node = root;
                while (node >= 0) node = bins[Feature[node]][r] <= _nodeBin[node] ? Left[node] : Right[node];
                f[r] += LeafValue[~node];
            }
        }

        /// <summary>Keeps the first <paramref name="trees"/> trees (which hold the first nodes and leaves).</summary>
        public void Truncate(int trees, int nodes, int leaves)
        {
            Roots.RemoveRange(trees, Roots.Count - trees);
            Feature.RemoveRange(nodes, Feature.Count - nodes);
            Threshold.RemoveRange(nodes, Threshold.Count - nodes);
            Left.RemoveRange(nodes, Left.Count - nodes);
            Right.RemoveRange(nodes, Right.Count - nodes);
            _nodeBin.RemoveRange(nodes, _nodeBin.Count - nodes);
            LeafValue.RemoveRange(leaves, LeafValue.Count - leaves);
        }

        private (Leaf Left, Leaf Right) Split(Leaf leaf)
        {
            var bins = _bins[leaf.Feature];
            int cut = leaf.Bin, end = leaf.Start + leaf.Count, nl = 0, nr = 0;
            double gl = 0, hl = 0;
            for (int k = leaf.Start; k < end; k++)
            {
                int r = _rows[k];
                if (bins[r] <= cut) { _rows[leaf.Start + nl++] = r; gl += _g[r]; hl += _h[r]; }
                else _tmp[nr++] = r;
            }
            Array.Copy(_tmp, 0, _rows, leaf.Start + nl, nr);
            var left = new Leaf { Start = leaf.Start, Count = nl, Depth = leaf.Depth + 1, G = gl, H = hl };
            var right = new Leaf { Start = leaf.Start + nl, Count = nr, Depth = leaf.Depth + 1, G = leaf.G - gl, H = leaf.H - hl };
            return (left, right);
        }

        /// <summary>
        /// Builds <paramref name="small"/>'s histogram (kept when it is to be scanned), turns
        /// <paramref name="parentHist"/> into <paramref name="large"/>'s (when given and to be scanned) and finds the
        /// best split of each scanned leaf. With no parent, <paramref name="small"/> is the root.
        /// </summary>
        private void Histograms(Leaf small, Leaf? large, float[]? parentHist, bool scanSmall, bool scanLarge)
        {
            float[]? hist = null;
            if (scanSmall) hist = _pool.Count > 0 ? _pool.Pop() : new float[3 * _totalBins];
            for (int k = 0; k < small.Count; k++)
            {
                int r = _rows[small.Start + k];
                _og[k] = (float)_g[r]; _oh[k] = (float)_h[r];
            }
            _jobSmall = small; _jobLarge = large; _jobParentHist = parentHist;
            _jobScanSmall = scanSmall; _jobScanLarge = scanLarge && large is not null;
            small.Hist = hist;
            // features in parallel when the work is large enough to pay for the fork
            long work = ((long)small.Count + (parentHist is null ? 0 : 3 * _maxSlice)) * _active.Length;
            _jobParts = work < 200_000 ? 1 : Math.Min(Math.Min(WorkerPool.MaxThreads * 4, 64), Math.Max(1, _active.Length));
            var handle = GCHandle.Alloc(this);
            try { WorkerPool.For(_jobParts, &HistogramPart, (void*)GCHandle.ToIntPtr(handle)); }
            finally { handle.Free(); }
            // reduce in part (= feature) order with strict >: the same choice as one serial scan
            small.Feature = -1; small.Gain = 0;
            if (large is not null) { large.Feature = -1; large.Gain = 0; }
            for (int p = 0; p < _jobParts; p++)
            {
                var (gs, fs, bs) = _bestSmall[p];
                if (fs >= 0 && gs > small.Gain) { small.Gain = gs; small.Feature = fs; small.Bin = bs; }
                if (large is null) continue;
                var (gl, fl, bl) = _bestLarge[p];
                if (fl >= 0 && gl > large.Gain) { large.Gain = gl; large.Feature = fl; large.Bin = bl; }
            }
            if (!scanSmall) small.Feature = -1;
            _jobSmall = _jobLarge = null; _jobParentHist = null;
        }

        private static void HistogramPart(void* state, int part)
        {
            var self = (TreeGrower)GCHandle.FromIntPtr((nint)state).Target!;
            self.RunPart(part);
        }

        private void RunPart(int part)
        {
            int na = _active.Length, parts = _jobParts;
            int from = (int)((long)na * part / parts), to = (int)((long)na * (part + 1) / parts);
            var small = _jobSmall!;
            var large = _jobLarge;
            var parentHist = _jobParentHist;
            float[] smallHist = small.Hist ?? (_scratch[part] ??= new float[3 * _maxSlice]);
            bool ownSlice = small.Hist is not null;
            int count = small.Count;
            var bs = (Gain: 0.0, Feature: -1, Bin: 0);
            var bl = (Gain: 0.0, Feature: -1, Bin: 0);
            fixed (int* rowsBase = _rows)
            fixed (float* og = _og, oh = _oh)
            {
                int* rows = rowsBase + small.Start;
                for (int a = from; a < to; a++)
                {
                    int j = _active[a];
                    int nb = _edges[j].Length + 1, off = ownSlice ? 3 * _offset[j] : 0;
                    fixed (byte* bins = _bins[j])
                    fixed (float* hs = &smallHist[off])
                    {
                        new Span<float>(hs, 3 * nb).Clear();
                        if (small.Start == 0 && count == _m)
                            for (int k = 0; k < count; k++)
                            {
                                float* h = hs + 3 * bins[k];
                                h[0] += og[k]; h[1] += oh[k]; h[2] += 1;
                            }
                        else
                            for (int k = 0; k < count; k++)
                            {
                                float* h = hs + 3 * bins[rows[k]];
                                h[0] += og[k]; h[1] += oh[k]; h[2] += 1;
                            }
                        if (_jobScanSmall) Scan(hs, nb, small, j, ref bs);
                        if (parentHist is not null && _jobScanLarge)
                            fixed (float* hp = &parentHist[3 * _offset[j]])
                            {
                                for (int b = 0; b < 3 * nb; b++) hp[b] -= hs[b];
                                Scan(hp, nb, large!, j, ref bl);
                            }
                    }
                }
            }
            _bestSmall[part] = bs;
            _bestLarge[part] = bl;
        }

        /// <summary>The best split of one feature's histogram <paramref name="h"/> for <paramref name="leaf"/>, if better than <paramref name="best"/>.</summary>
        private void Scan(float* h, int nb, Leaf leaf, int feature, ref (double Gain, int Feature, int Bin) best)
        {
            double lambda = _o.L2, parentScore = leaf.G * leaf.G / (leaf.H + lambda);
            double minGain = Math.Max(_o.MinSplitGain, 1e-12), minLeaf = _o.MinLeafSize, minHess = _o.MinLeafHessian;
            double gl = 0, hl = 0, cl = 0, count = leaf.Count;
            for (int b = 0; b < nb - 1; b++)
            {
                if (h[3 * b + 2] == 0) continue; // an empty bin moves nothing: the gain equals the previous bin's
                gl += h[3 * b]; hl += h[3 * b + 1]; cl += h[3 * b + 2];
                if (cl < minLeaf) continue;
                if (count - cl < minLeaf) break;
                double hr = leaf.H - hl;
                if (hl < minHess || hr < minHess) continue;
                double gr = leaf.G - gl;
                double gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parentScore;
                if (gain > minGain && gain > best.Gain) best = (gain, feature, b);
            }
        }
    }
}
