using System.Globalization;
using NormalizingFlows.Data;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>
/// A set of dijet events: the resonance variable m_jj, the four auxiliary features x = (m_j1, Δm_j, τ21_j1, τ21_j2)
/// as columns (<c>Features[j][i]</c>: feature j of event i; j1 the lighter jet, Δm_j = m_j2 − m_j1 ≥ 0, masses in
/// TeV) and the truth label (true for signal; unknown to the data-driven methods).
/// </summary>
public sealed class BumpHuntEvents
{
    /// <summary>Names of the four features, in column order.</summary>
    public static IReadOnlyList<string> FeatureNames { get; } = ["mj1", "dmj", "tau21_j1", "tau21_j2"];

    /// <summary>Wraps arrays (not copied); all must have the same length.</summary>
    public BumpHuntEvents(double[] mjj, double[][] features, bool[] isSignal)
    {
        ArgumentNullException.ThrowIfNull(mjj);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(isSignal);
        if (features.Length != FeatureNames.Count) throw new ArgumentException($"{features.Length} feature columns, expected {FeatureNames.Count} ({string.Join(", ", FeatureNames)})");
        for (int j = 0; j < features.Length; j++)
            if (features[j] is null || features[j].Length != mjj.Length) throw new ArgumentException($"feature column {FeatureNames[j]} has {features[j]?.Length ?? 0} events, m_jj has {mjj.Length}");
        if (isSignal.Length != mjj.Length) throw new ArgumentException($"{isSignal.Length} labels for {mjj.Length} events");
        Mjj = mjj; Features = features; IsSignal = isSignal;
    }

    /// <summary>m_jj of each event (TeV).</summary>
    public double[] Mjj { get; }

    /// <summary>The feature columns.</summary>
    public double[][] Features { get; }

    /// <summary>Truth: true for signal events.</summary>
    public bool[] IsSignal { get; }

    /// <summary>Number of events.</summary>
    public int Count => Mjj.Length;

    /// <summary>Number of signal events.</summary>
    public int SignalCount => IsSignal.Count(s => s);

    /// <summary>Indices of the events with <paramref name="low"/> ≤ m_jj &lt; <paramref name="high"/>.</summary>
    public int[] RowsInside(double low, double high) => Enumerable.Range(0, Count).Where(i => Mjj[i] >= low && Mjj[i] < high).ToArray();

    /// <summary>Indices of the events outside [<paramref name="low"/>, <paramref name="high"/>) (the sidebands).</summary>
    public int[] RowsOutside(double low, double high) => Enumerable.Range(0, Count).Where(i => Mjj[i] < low || Mjj[i] >= high).ToArray();

    /// <summary>The events <paramref name="rows"/>, in that order (copied).</summary>
    public BumpHuntEvents Subset(IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var f = Features.Select(c => rows.Select(i => c[i]).ToArray()).ToArray();
        return new BumpHuntEvents(rows.Select(i => Mjj[i]).ToArray(), f, rows.Select(i => IsSignal[i]).ToArray());
    }

    /// <summary>This set followed by <paramref name="other"/>.</summary>
    public BumpHuntEvents Concat(BumpHuntEvents other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new BumpHuntEvents([.. Mjj, .. other.Mjj], Features.Select((c, j) => (double[])[.. c, .. other.Features[j]]).ToArray(), [.. IsSignal, .. other.IsSignal]);
    }

    /// <summary>The events in a random order (seeded).</summary>
    public BumpHuntEvents Shuffled(Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        return Subset(rng.Permutation(Count));
    }

    /// <summary>A table with columns mjj, the four features and "label" (1 signal, 0 background).</summary>
    public Table ToTable()
    {
        string[] cols = ["mjj", .. FeatureNames, "label"];
        var v = new double[Count * cols.Length];
        for (int i = 0; i < Count; i++)
        {
            int o = i * cols.Length;
            v[o] = Mjj[i];
            for (int j = 0; j < 4; j++) v[o + 1 + j] = Features[j][i];
            v[o + 5] = IsSignal[i] ? 1 : 0;
        }
        return new Table(cols, v, Count);
    }

    /// <summary>
    /// Reads events from a table with columns mjj, mj1, dmj, tau21_j1, tau21_j2 and optionally label (1 = signal; all
    /// background when absent). Throws naming a missing column or a bad label.
    /// </summary>
    public static BumpHuntEvents FromTable(Table table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int Col(string name, bool required)
        {
            int k = Array.IndexOf(table.Columns, name);
            if (k < 0 && required) throw new ArgumentException($"the bump-hunt table needs a column '{name}' (has: {string.Join(", ", table.Columns)})");
            return k;
        }
        int cm = Col("mjj", true);
        var fc = FeatureNames.Select(n => Col(n, true)).ToArray();
        int cl = Col("label", false);
        int n = table.Rows;
        var mjj = new double[n];
        var f = Enumerable.Range(0, 4).Select(_ => new double[n]).ToArray();
        var lab = new bool[n];
        for (int i = 0; i < n; i++)
        {
            mjj[i] = table[i, cm];
            for (int j = 0; j < 4; j++) f[j][i] = table[i, fc[j]];
            if (cl >= 0)
            {
                double l = table[i, cl];
                if (l != 0 && l != 1) throw new ArgumentException($"row {i}: label must be 0 or 1, got {l.ToString(CultureInfo.InvariantCulture)}");
                lab[i] = l == 1;
            }
        }
        return new BumpHuntEvents(mjj, f, lab);
    }
}
