namespace NormalizingFlows.Hep.Evaluation;

/// <summary>
/// ROC curves and the quantities derived from them, as pure functions of per-event scores (higher = more
/// positive/signal-like), labels and optional weights. Ties count one half, so the AUC is the Mann–Whitney
/// statistic: AUC = Σᵢ₊Σⱼ₋ wᵢwⱼ([sᵢ &gt; sⱼ] + ½[sᵢ = sⱼ]) / (W₊W₋), computed exactly in O(n log n) by one sort.
/// Weights may be negative (HEP event weights), but each class's total weight must be positive. NaN scores are
/// rejected. Every function throws an <see cref="ArgumentException"/> naming the problem when a class is empty.
/// </summary>
public static class Roc
{
    /// <summary>The ROC curve of <paramref name="scores"/> with labels <paramref name="positive"/> (and optional weights), with the AUC and its DeLong error.</summary>
    public static RocCurve Compute(ReadOnlySpan<double> scores, ReadOnlySpan<bool> positive, ReadOnlySpan<double> weights = default)
    {
        var s = Sweep(scores, positive, weights);
        int groups = s.GroupCount;
        var fpr = new double[groups + 1];
        var tpr = new double[groups + 1];
        var thr = new double[groups + 1];
        var cnt = new int[groups + 1];
        thr[0] = double.PositiveInfinity;
        double cp = 0, cn = 0;
        int cc = 0;
        // groups are stored in ascending score order; the curve runs from the highest threshold down
        for (int g = groups - 1, k = 1; g >= 0; g--, k++)
        {
            cp += s.GroupPos[g]; cn += s.GroupNeg[g]; cc += s.GroupNegCount[g];
            tpr[k] = Math.Clamp(cp / s.WPos, 0, 1);
            fpr[k] = Math.Clamp(cn / s.WNeg, 0, 1);
            thr[k] = s.GroupScore[g];
            cnt[k] = cc;
        }
        tpr[groups] = 1; fpr[groups] = 1;
        var (auc, err, _) = Estimate(s);
        return new RocCurve(fpr, tpr, thr, cnt, auc, err, s.NPos, s.NNeg);
    }

    /// <summary>The ROC curve of two score samples: <paramref name="positiveScores"/> (signal) against <paramref name="negativeScores"/> (background).</summary>
    public static RocCurve Compute(double[] positiveScores, double[] negativeScores, double[]? positiveWeights = null, double[]? negativeWeights = null)
    {
        var (s, l, w) = Concat(positiveScores, negativeScores, positiveWeights, negativeWeights);
        return Compute(s, l, w);
    }

    /// <summary>The area under the ROC curve (exact Mann–Whitney with ties counted one half).</summary>
    public static double Auc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> positive, ReadOnlySpan<double> weights = default) =>
        Estimate(Sweep(scores, positive, weights)).Auc;

    /// <summary>
    /// The AUC and its standard error. Unweighted: DeLong et al. (1988), Var = S₁₀/n₊ + S₀₁/n₋ with S₁₀, S₀₁ the sample
    /// variances (n − 1 denominators) of the structural components V₁₀(i) = P(s₋ &lt; sᵢ) + ½P(s₋ = sᵢ) over positives and
    /// V₀₁(j) = P(s₊ &gt; sⱼ) + ½P(s₊ = sⱼ) over negatives. Weighted: the same influence-function estimator with weights,
    /// Var = n₊ᵉ/(n₊ᵉ − 1)·Σᵢ wᵢ²(V₁₀(i) − A)²/W₊² + (same for negatives), nᵉ = (Σw)²/Σw² the Kish effective size; it
    /// reduces to DeLong for unit weights. When a class has fewer than two (effective) events the DeLong variance is
    /// undefined and the Hanley–McNeil (1982) formula is used instead (Method says which).
    /// </summary>
    public static AucEstimate AucWithError(ReadOnlySpan<double> scores, ReadOnlySpan<bool> positive, ReadOnlySpan<double> weights = default) =>
        Estimate(Sweep(scores, positive, weights));

    /// <summary>
    /// Hanley &amp; McNeil (1982) standard error of an AUC from the AUC alone and the class sizes (exponential-score
    /// approximation: Q₁ = A/(2 − A), Q₂ = 2A²/(1 + A)). A quick fallback; DeLong is preferred where scores are at hand.
    /// </summary>
    public static double HanleyMcNeilError(double auc, double positives, double negatives)
    {
        if (!(positives > 0) || !(negatives > 0)) throw new ArgumentException($"Hanley-McNeil needs both classes non-empty (got {positives} positives, {negatives} negatives)");
        double q1 = auc / (2 - auc), q2 = 2 * auc * auc / (1 + auc);
        double v = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives);
        return Math.Sqrt(Math.Max(v, 0));
    }

    /// <summary>
    /// The significance-improvement curve SIC = ε_S/√ε_B over the points of <paramref name="roc"/> whose background
    /// efficiency rests on at least <paramref name="minBackgroundEvents"/> background events and is at least
    /// <paramref name="minFalsePositiveRate"/> (a guard: at tiny ε_B the SIC is dominated by the fluctuation of a few events).
    /// </summary>
    public static SicCurve Sic(RocCurve roc, int minBackgroundEvents = 10, double minFalsePositiveRate = 0.0)
    {
        ArgumentNullException.ThrowIfNull(roc);
        var t = new List<double>();
        var sic = new List<double>();
        double best = double.NaN, bt = double.NaN, bf = double.NaN;
        for (int i = 0; i < roc.FalsePositiveRate.Length; i++)
        {
            double f = roc.FalsePositiveRate[i];
            if (!(f > 0) || f < minFalsePositiveRate || roc.BackgroundCounts[i] < minBackgroundEvents) continue;
            double v = roc.TruePositiveRate[i] / Math.Sqrt(f);
            t.Add(roc.TruePositiveRate[i]); sic.Add(v);
            if (!(v <= best)) { best = v; bt = roc.TruePositiveRate[i]; bf = f; }
        }
        return new SicCurve(t.ToArray(), sic.ToArray(), best, bt, bf);
    }

    /// <summary>
    /// Background efficiency ε_B at signal efficiency <paramref name="signalEfficiency"/> ∈ (0, 1], interpolated
    /// linearly along the curve.
    /// </summary>
    public static double FalsePositiveRateAt(RocCurve roc, double signalEfficiency)
    {
        ArgumentNullException.ThrowIfNull(roc);
        if (!(signalEfficiency > 0 && signalEfficiency <= 1)) throw new ArgumentOutOfRangeException(nameof(signalEfficiency), signalEfficiency, "must lie in (0, 1]");
        var tpr = roc.TruePositiveRate; var fpr = roc.FalsePositiveRate;
        for (int i = 1; i < tpr.Length; i++)
        {
            if (tpr[i] < signalEfficiency) continue;
            double dt = tpr[i] - tpr[i - 1];
            double a = dt > 0 ? (signalEfficiency - tpr[i - 1]) / dt : 1;
            return fpr[i - 1] + a * (fpr[i] - fpr[i - 1]);
        }
        return 1;
    }

    /// <summary>Background rejection 1/ε_B at signal efficiency <paramref name="signalEfficiency"/> (+∞ when no background passes).</summary>
    public static double RejectionAt(RocCurve roc, double signalEfficiency)
    {
        double f = FalsePositiveRateAt(roc, signalEfficiency);
        return f > 0 ? 1 / f : double.PositiveInfinity;
    }

    internal static (double[] Scores, bool[] Labels, double[]? Weights) Concat(double[] pos, double[] neg, double[]? wPos, double[]? wNeg)
    {
        ArgumentNullException.ThrowIfNull(pos);
        ArgumentNullException.ThrowIfNull(neg);
        if (wPos is not null && wPos.Length != pos.Length) throw new ArgumentException($"{wPos.Length} positive weights for {pos.Length} positive scores");
        if (wNeg is not null && wNeg.Length != neg.Length) throw new ArgumentException($"{wNeg.Length} negative weights for {neg.Length} negative scores");
        var s = new double[pos.Length + neg.Length];
        var l = new bool[s.Length];
        pos.CopyTo(s, 0); neg.CopyTo(s, pos.Length);
        l.AsSpan(0, pos.Length).Fill(true);
        double[]? w = null;
        if (wPos is not null || wNeg is not null)
        {
            w = new double[s.Length];
            for (int i = 0; i < pos.Length; i++) w[i] = wPos?[i] ?? 1;
            for (int i = 0; i < neg.Length; i++) w[pos.Length + i] = wNeg?[i] ?? 1;
        }
        return (s, l, w);
    }

    /// <summary>The sorted, tie-grouped view of the data every estimate is computed from.</summary>
    private sealed class SweepData
    {
        public required int[] GroupOf;        // group index of each event
        public required double[] GroupScore, GroupPos, GroupNeg, NegBelow, PosAbove;
        public required int[] GroupNegCount;
        public required int GroupCount, NPos, NNeg;
        public required double WPos, WNeg, W2Pos, W2Neg;
        public required bool Weighted;
        public required bool[] Positive;
        public required double[]? Weights;
    }

    private static SweepData Sweep(ReadOnlySpan<double> scores, ReadOnlySpan<bool> positive, ReadOnlySpan<double> weights)
    {
        int n = scores.Length;
        if (positive.Length != n) throw new ArgumentException($"{positive.Length} labels for {n} scores");
        bool weighted = !weights.IsEmpty;
        if (weighted && weights.Length != n) throw new ArgumentException($"{weights.Length} weights for {n} scores");
        int nPos = 0;
        double wPos = 0, wNeg = 0, w2Pos = 0, w2Neg = 0;
        for (int i = 0; i < n; i++)
        {
            if (double.IsNaN(scores[i])) throw new ArgumentException($"score of event {i} is NaN");
            double w = weighted ? weights[i] : 1;
            if (!double.IsFinite(w)) throw new ArgumentException($"weight of event {i} is {w}");
            if (positive[i]) { nPos++; wPos += w; w2Pos += w * w; } else { wNeg += w; w2Neg += w * w; }
        }
        int nNeg = n - nPos;
        if (nPos == 0 || nNeg == 0)
            throw new ArgumentException($"a ROC curve needs both classes: got {nPos} positive and {nNeg} negative events");
        if (!(wPos > 0) || !(wNeg > 0))
            throw new ArgumentException($"each class needs a positive total weight: got {wPos} (positive) and {wNeg} (negative)");
        var sc = scores.ToArray();
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(sc, order);
        var groupOf = new int[n];
        var gs = new List<double>(); var gp = new List<double>(); var gn = new List<double>(); var gc = new List<int>();
        for (int k = 0; k < n;)
        {
            int e = k;
            double p = 0, q = 0; int c = 0;
            while (e < n && sc[e] == sc[k])
            {
                int i = order[e];
                double w = weighted ? weights[i] : 1;
                if (positive[i]) p += w; else { q += w; c++; }
                groupOf[i] = gs.Count;
                e++;
            }
            gs.Add(sc[k]); gp.Add(p); gn.Add(q); gc.Add(c);
            k = e;
        }
        int g = gs.Count;
        var negBelow = new double[g]; var posAbove = new double[g];
        double acc = 0;
        for (int k = 0; k < g; k++) { negBelow[k] = acc; acc += gn[k]; }
        acc = 0;
        for (int k = g - 1; k >= 0; k--) { posAbove[k] = acc; acc += gp[k]; }
        return new SweepData
        {
            GroupOf = groupOf, GroupScore = gs.ToArray(), GroupPos = gp.ToArray(), GroupNeg = gn.ToArray(),
            GroupNegCount = gc.ToArray(), NegBelow = negBelow, PosAbove = posAbove, GroupCount = g, NPos = nPos, NNeg = nNeg,
            WPos = wPos, WNeg = wNeg, W2Pos = w2Pos, W2Neg = w2Neg, Weighted = weighted, Positive = positive.ToArray(),
            Weights = weighted ? weights.ToArray() : null,
        };
    }

    private static AucEstimate Estimate(SweepData s)
    {
        // AUC = Σ_groups gp·(negBelow + ½ gn) / (W₊W₋)
        double a = 0;
        for (int k = 0; k < s.GroupCount; k++) a += s.GroupPos[k] * (s.NegBelow[k] + 0.5 * s.GroupNeg[k]);
        double auc = a / (s.WPos * s.WNeg);
        double effPos = s.WPos * s.WPos / s.W2Pos, effNeg = s.WNeg * s.WNeg / s.W2Neg;
        if (!(effPos > 1.000001) || !(effNeg > 1.000001))
            return new AucEstimate(auc, HanleyMcNeilError(auc, Math.Max(effPos, 1), Math.Max(effNeg, 1)), "Hanley-McNeil");
        // structural components: V10(i) for positives, V01(j) for negatives, shared by every event of a tie group
        double sp = 0, sn = 0;
        int n = s.Positive.Length;
        for (int i = 0; i < n; i++)
        {
            int k = s.GroupOf[i];
            double w = s.Weights?[i] ?? 1;
            if (s.Positive[i])
            {
                double v = (s.NegBelow[k] + 0.5 * s.GroupNeg[k]) / s.WNeg - auc;
                sp += w * w * v * v;
            }
            else
            {
                double v = (s.PosAbove[k] + 0.5 * s.GroupPos[k]) / s.WPos - auc;
                sn += w * w * v * v;
            }
        }
        double var = effPos / (effPos - 1) * sp / (s.WPos * s.WPos) + effNeg / (effNeg - 1) * sn / (s.WNeg * s.WNeg);
        return new AucEstimate(auc, Math.Sqrt(Math.Max(var, 0)), s.Weighted ? "DeLong (weighted)" : "DeLong");
    }
}
