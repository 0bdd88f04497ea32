using NormalizingFlows.Autograd;
using NormalizingFlows.Nn;
using NormalizingFlows.Optim;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// A binary MLP classifier (our <see cref="Mlp{T}"/> in float32, Adam, weighted binary cross-entropy on logits) on
/// standardised inputs, with early stopping on a stratified held-out part. Data are given as columns:
/// <c>columns[j][i]</c> is feature j of event i; labels are true for the positive class. The output logit z
/// estimates log[p₊(x)/p₋(x)] + log(prior odds) (prior odds 1 with class balancing).
/// </summary>
public sealed class MlpClassifier
{
    private readonly Mlp<float> _net;
    private readonly double[] _mean, _invStd;

    private MlpClassifier(Mlp<float> net, double[] mean, double[] invStd)
    {
        _net = net; _mean = mean; _invStd = invStd;
    }

    /// <summary>Number of input features.</summary>
    public int Features => _mean.Length;

    /// <summary>Epochs run before stopping.</summary>
    public int EpochsRun { get; private set; }

    /// <summary>The epoch whose parameters the classifier holds (best validation loss; the last epoch without validation).</summary>
    public int BestEpoch { get; private set; }

    /// <summary>Weighted BCE on the held-out part at the best epoch (NaN without validation).</summary>
    public double BestValidationLoss { get; private set; } = double.NaN;

    /// <summary>
    /// Trains on the events <paramref name="rows"/> (all when null) of <paramref name="columns"/>, with optional
    /// per-event <paramref name="weights"/>. A stratified <see cref="ClassifierOptions.ValidationFraction"/> of those
    /// rows is held out for early stopping; standardisation uses the training rows only.
    /// </summary>
    public static MlpClassifier Fit(double[][] columns, bool[] labels, double[]? weights, ClassifierOptions options, IReadOnlyList<int>? rows = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(labels);
        options.Validate();
        int n = CheckColumns(columns, labels.Length);
        if (weights is not null && weights.Length != n) throw new ArgumentException($"{weights.Length} weights for {n} events");
        var use = rows?.ToArray() ?? Enumerable.Range(0, n).ToArray();
        var rng = new Rng(options.Seed);
        // stratified split of the rows into training and validation parts
        var pos = use.Where(i => labels[i]).ToArray();
        var neg = use.Where(i => !labels[i]).ToArray();
        if (pos.Length == 0 || neg.Length == 0) throw new ArgumentException($"the classifier needs both classes: got {pos.Length} positive and {neg.Length} negative events");
        rng.Shuffle(pos.AsSpan()); rng.Shuffle(neg.AsSpan());
        int vp = (int)Math.Round(pos.Length * options.ValidationFraction), vn = (int)Math.Round(neg.Length * options.ValidationFraction);
        if (pos.Length - vp < 1 || neg.Length - vn < 1) { vp = 0; vn = 0; }
        var train = pos[vp..].Concat(neg[vn..]).ToArray();
        var valid = pos[..vp].Concat(neg[..vn]).ToArray();

        int d = columns.Length;
        var mean = new double[d]; var invStd = new double[d];
        for (int j = 0; j < d; j++)
        {
            double m = 0, s = 0;
            foreach (int i in train) m += columns[j][i];
            m /= train.Length;
            foreach (int i in train) s += (columns[j][i] - m) * (columns[j][i] - m);
            double sd = Math.Sqrt(s / train.Length);
            mean[j] = m; invStd[j] = sd > 1e-12 && double.IsFinite(sd) ? 1 / sd : 1;
        }
        // per-event loss weights: event weight × class balance, mean 1 over the training part
        var lw = new double[n];
        double wp = 0, wn = 0;
        foreach (int i in train) { double w = weights?[i] ?? 1; if (labels[i]) wp += w; else wn += w; }
        if (!(wp > 0) || !(wn > 0)) throw new ArgumentException($"each class needs a positive total weight (got {wp} and {wn})");
        foreach (int i in use)
        {
            double w = weights?[i] ?? 1;
            lw[i] = options.BalanceClasses ? w * (wp + wn) / (2 * (labels[i] ? wp : wn)) : w;
        }

        var net = new Mlp<float>(d, options.HiddenSizes, 1, rng.Split(), options.Activation);
        var clf = new MlpClassifier(net, mean, invStd);
        clf.Train(columns, labels, lw, train, valid, options, rng.Split());
        return clf;
    }

    private void Train(double[][] columns, bool[] labels, double[] lw, int[] train, int[] valid, ClassifierOptions o, Rng rng)
    {
        int batch = Math.Min(o.BatchSize, train.Length);
        int stepsPerEpoch = (train.Length + batch - 1) / batch;
        var options = new TrainingOptions
        {
            Epochs = o.Epochs, BatchSize = o.BatchSize, LearningRate = o.LearningRate, WeightDecay = o.WeightDecay, ClipNorm = null, Patience = o.Patience,
            Schedule = new CosineDecaySchedule(o.LearningRate, o.Epochs * stepsPerEpoch, floor: 0.1 * o.LearningRate), ReportEverySteps = int.MaxValue,
        };
        // the rows as the loop sees them: standardised, training rows in the order of 'train' (shuffled in place each epoch)
        var order = Enumerable.Range(0, train.Length).ToArray();
        var loop = new TrainingLoop<float>(_net, options) { BatchOrder = (_, _) => { rng.Shuffle(order.AsSpan()); return order; } };
        var history = loop.Fit(new CrossEntropyLoss(this, labels, lw, train, valid), Rows(columns, lw, train), valid.Length == 0 ? null : Rows(columns, lw, valid));
        EpochsRun = history.Epochs.Count;
        BestEpoch = history.BestEpoch ?? EpochsRun;
        BestValidationLoss = valid.Length == 0 ? double.NaN : -history.Epochs.First(e => e.Epoch == BestEpoch).ValidationLogLikelihood!.Value;
        _net.Eval();
    }

    /// <summary>The standardised events <paramref name="rows"/> with their loss weights (as float).</summary>
    private TrainingData<float> Rows(double[][] columns, double[] lw, int[] rows)
    {
        var x = Tensor<float>.Empty(rows.Length, Features).Untrack();
        FillBatch(columns, rows, x.Span);
        var w = Tensor<float>.Empty(rows.Length).Untrack();
        for (int k = 0; k < rows.Length; k++) w.Span[k] = (float)lw[rows[k]];
        return new TrainingData<float>(x, Weights: w);
    }

    /// <summary>
    /// The weighted binary cross-entropy on logits of a batch of training rows; the validation score is minus its
    /// weighted mean on the held-out rows (targets and weights in double).
    /// </summary>
    private sealed class CrossEntropyLoss(MlpClassifier classifier, bool[] labels, double[] lw, int[] train, int[] valid) : TrainingLoss<float>
    {
        private readonly float[] _targets = train.Select(i => labels[i] ? 1f : 0f).ToArray();
        private readonly double[] _validTargets = valid.Select(i => labels[i] ? 1.0 : 0.0).ToArray();
        private readonly double[] _validWeights = valid.Select(i => lw[i]).ToArray();

        public override Var<float> Compute(TrainingBatch<float> batch)
        {
            var rows = batch.Rows.Span;
            if (_t.Length < rows.Length) (_t, _w) = (new float[rows.Length], new float[rows.Length]);
            for (int k = 0; k < rows.Length; k++) _t[k] = _targets[rows[k]];
            batch.Weights!.ReadOnlySpan[..rows.Length].CopyTo(_w);
            var logits = classifier._net.Forward(new Var<float>(batch.X!));
            return WeightedBce(logits, _t, _w);
        }

        // the batch's targets and weights, reused from step to step (the backward pass reads them before the next step)
        private float[] _t = [], _w = [];

        public override double Validate(TrainingData<float> validation)
        {
            int d = classifier.Features;
            var z = classifier.Logits(validation.Rows, (start, x) => validation.X.ReadOnlySpan.Slice(start * d, x.Length).CopyTo(x.Span));
            return -MeanBce(z, _validTargets, _validWeights);
        }
    }

    /// <summary>Weighted mean BCE Σ w·BCE(z, t) / Σ w of logits <paramref name="z"/>.</summary>
    private static double MeanBce(double[] z, double[] targets, double[] weights)
    {
        double s = 0, sw = 0;
        for (int k = 0; k < z.Length; k++)
        {
            double zi = z[k], ti = targets[k], w = weights[k];
            s += w * (Math.Max(zi, 0) - zi * ti + Math.Log(1 + Math.Exp(-Math.Abs(zi))));
            sw += w;
        }
        return s / sw;
    }

    /// <summary>The logits z(x) of the events <paramref name="rows"/> (all when null), in that order.</summary>
    public double[] PredictLogits(double[][] columns, IReadOnlyList<int>? rows = null)
    {
        int n = CheckColumns(columns, null);
        if (columns.Length != Features) throw new ArgumentException($"{columns.Length} feature columns; the classifier was trained on {Features}");
        var use = rows?.ToArray() ?? Enumerable.Range(0, n).ToArray();
        return Logits(use.Length, (start, x) => FillBatch(columns, use.AsSpan(start, x.Dim(0)), x.Span));
    }

    /// <summary>Logits of <paramref name="count"/> events in evaluation mode without gradients, in chunks that <paramref name="fill"/> writes (standardised) from a start row.</summary>
    private double[] Logits(int count, Action<int, Tensor<float>> fill)
    {
        var z = new double[count];
        bool wasTraining = _net.Training;
        _net.Eval();
        const int chunk = 4096;
        using (GradMode.Disable())
            for (int start = 0; start < count; start += chunk)
            {
                int b = Math.Min(chunk, count - start);
                using var scope = TensorScope.Begin();
                var x = Tensor<float>.Empty(b, Features);
                fill(start, x);
                var y = _net.Forward(new Var<float>(x)).Value.ReadOnlySpan;
                for (int k = 0; k < b; k++) z[start + k] = y[k];
            }
        if (wasTraining) _net.Train();
        return z;
    }

    /// <summary>The probabilities D(x) = σ(z(x)) of the positive class for the events <paramref name="rows"/> (all when null).</summary>
    public double[] PredictProbabilities(double[][] columns, IReadOnlyList<int>? rows = null) =>
        PredictLogits(columns, rows).Select(Sigmoid).ToArray();

    /// <summary>σ(z) = 1/(1 + e^(−z)), computed without overflow.</summary>
    public static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    private void FillBatch(double[][] columns, ReadOnlySpan<int> rows, Span<float> x)
    {
        int d = Features;
        for (int k = 0; k < rows.Length; k++)
        {
            int i = rows[k];
            for (int j = 0; j < d; j++)
            {
                double v = (columns[j][i] - _mean[j]) * _invStd[j];
                x[k * d + j] = double.IsFinite(v) ? (float)v : 0f;
            }
        }
    }

    /// <summary>Σₖ wₖ·BCE(zₖ, tₖ) / B for logits [B, 1], with its hand-written backward.</summary>
    private static Var<float> WeightedBce(Var<float> logits, float[] targets, float[] weights)
    {
        var z = logits.Value;
        int n = z.Length;
        var zs = z.ReadOnlySpan;
        double s = 0;
        for (int i = 0; i < n; i++)
        {
            double zi = zs[i];
            s += weights[i] * (Math.Max(zi, 0) - zi * targets[i] + Math.Log(1 + Math.Exp(-Math.Abs(zi))));
        }
        var y = Tensor<float>.Scalar((float)(s / n));
        if (!GradMode.IsEnabled || !logits.RequiresGrad) return new Var<float>(y);
        return new Var<float>(y, [logits], o =>
        {
            double g = o.Grad!.Span[0] / (double)n;
            var gx = logits.GradBuffer().Span;
            var zv = z.ReadOnlySpan;
            for (int i = 0; i < n; i++) gx[i] += (float)(g * weights[i] * (Sigmoid(zv[i]) - targets[i]));
        });
    }

    internal static int CheckColumns(double[][] columns, int? rows)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Length == 0) throw new ArgumentException("no feature columns");
        int n = columns[0]?.Length ?? throw new ArgumentException("feature column 0 is null");
        for (int j = 1; j < columns.Length; j++)
            if (columns[j] is null || columns[j].Length != n) throw new ArgumentException($"feature column {j} has {columns[j]?.Length ?? 0} events, column 0 has {n}");
        if (rows is { } r && r != n) throw new ArgumentException($"{r} labels for {n} events");
        return n;
    }
}
