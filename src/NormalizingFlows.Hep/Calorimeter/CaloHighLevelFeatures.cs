using NormalizingFlows.Hep.Evaluation;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// The CaloChallenge's high-level features of a set of showers, in the geometry's own coordinates (mm): E_dep/E_inc,
/// the energy per layer and, for every layer with lateral resolution, the centre of energy in x and y and its width
/// (energy-weighted RMS) in x and y. For the toy CaloGAN geometry (<see cref="CaloGeometry"/>) x and y are the
/// layer's cartesian axes (every layer counts); for a CaloChallenge geometry (<see cref="CaloChallengeDataset"/>)
/// they are r cos α ("η") and r sin α ("φ") at the voxel centres, and only layers binned in α count, as in the
/// challenge's HighLevelFeatures. Centres and widths use the voxels with energy &gt; 0 and are 0 for a layer with none
/// (the challenge divides by E + 10⁻¹⁶, which differs only for such layers); energies sum every voxel.
/// </summary>
public sealed class CaloHighLevelFeatures
{
    private readonly List<string> names = [];
    private readonly List<double[]> columns = [];
    private readonly List<bool> logarithmic = [];

    private CaloHighLevelFeatures(double[] incident) => IncidentEnergy = incident;

    /// <summary>E_inc per shower (GeV).</summary>
    public double[] IncidentEnergy { get; }

    /// <summary>Number of showers.</summary>
    public int Count => IncidentEnergy.Length;

    /// <summary>The feature names, in column order: "E_dep/E_inc", "E layer L (GeV)", then per lateral layer "centre x layer L (mm)", "centre y …", "width x …", "width y …".</summary>
    public IReadOnlyList<string> Names => names;

    /// <summary>The features as columns (<c>Columns[j][i]</c>: feature j of shower i), in <see cref="Names"/> order.</summary>
    public IReadOnlyList<double[]> Columns => columns;

    /// <summary>The features of toy-calorimeter showers (<see cref="CaloGeometry"/>, cartesian x and y of every layer).</summary>
    public static CaloHighLevelFeatures Compute(CaloShowers showers)
    {
        ArgumentNullException.ThrowIfNull(showers);
        return Compute(showers.Voxels, showers.IncidentEnergies, CaloGeometry.Voxels, ToyLayers);
    }

    /// <summary>The features of CaloChallenge showers (polar voxels; centres and widths of the layers binned in α).</summary>
    public static CaloHighLevelFeatures Compute(CaloChallengeShowers showers)
    {
        ArgumentNullException.ThrowIfNull(showers);
        var layers = showers.Dataset.Layers.Select(l =>
        {
            var (x, y) = l.VoxelCentres();
            return new Layer(l.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), l.Offset, x, y, l.AngularBins > 1);
        }).ToArray();
        return Compute(showers.Voxels, showers.IncidentEnergies, showers.Dataset.Voxels, layers);
    }

    /// <summary>
    /// The separation power (<see cref="SeparationPower"/>) of every feature of <paramref name="generated"/> against
    /// this reference, binned by <see cref="Edges"/> of the reference.
    /// </summary>
    public IReadOnlyList<(string Feature, double SeparationPower)> SeparationPowers(CaloHighLevelFeatures generated, int bins = 100)
    {
        ArgumentNullException.ThrowIfNull(generated);
        if (!generated.names.SequenceEqual(names))
            throw new ArgumentException($"the generated showers have other features ({generated.names.Count}) than the reference ({names.Count}): another geometry?", nameof(generated));
        return names.Select((n, j) => (n, SeparationPower.Compute(columns[j], generated.columns[j], Edges(j, bins)))).ToArray();
    }

    /// <summary>
    /// The reference's binning of feature <paramref name="feature"/>: <paramref name="bins"/> equal bins over this
    /// sample's range, in log₁₀ for the layer energies (from the smallest positive value, at least 10⁻⁶ of the largest;
    /// empty layers then fall below the first bin); a constant feature gets one bin ±0.5 around it.
    /// </summary>
    public double[] Edges(int feature, int bins = 100)
    {
        var v = columns[feature].Where(double.IsFinite).ToArray();
        if (v.Length == 0) return [-0.5, 0.5];
        double min = v.Min(), max = v.Max();
        if (logarithmic[feature])
        {
            double low = v.Where(e => e > 0).DefaultIfEmpty(0).Min();
            if (max > 0 && low < max) return SeparationPower.LogEdges(Math.Max(low, 1e-6 * max), max, bins);
        }
        return max > min ? SeparationPower.LinearEdges(min, max, bins) : [min - 0.5, min + 0.5];
    }

    /// <summary>
    /// The inputs of the challenge's high-level classifier, as columns: log₁₀ E_inc and log₁₀(E_layer + 10⁻⁸) with
    /// energies in MeV, then centres and widths divided by 100 mm.
    /// </summary>
    public double[][] ClassifierColumns()
    {
        var result = new List<double[]> { IncidentEnergy.Select(e => Math.Log10(e * 1000)).ToArray() };
        for (int j = 1; j < columns.Count; j++)
            result.Add(logarithmic[j] ? columns[j].Select(e => Math.Log10(e * 1000 + 1e-8)).ToArray() : columns[j].Select(v => v / 100).ToArray());
        return result.ToArray();
    }

    /// <summary>Energy, centre and width of one layer of one shower from its voxels with energy &gt; 0 (0 where it has none).</summary>
    internal static (double Energy, int Hits, double CentreX, double CentreY, double WidthX, double WidthY) Moments(ReadOnlySpan<double> voxels, double[] x, double[] y)
    {
        double e = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
        int hits = 0;
        for (int k = 0; k < voxels.Length; k++)
        {
            double v = voxels[k];
            if (v <= 0) continue;
            hits++;
            e += v; sx += v * x[k]; sy += v * y[k]; sxx += v * x[k] * x[k]; syy += v * y[k] * y[k];
        }
        if (!(e > 0)) return (e, hits, 0, 0, 0, 0);
        double cx = sx / e, cy = sy / e;
        return (e, hits, cx, cy, Math.Sqrt(Math.Max(0, sxx / e - cx * cx)), Math.Sqrt(Math.Max(0, syy / e - cy * cy)));
    }

    /// <summary>The toy geometry's layers: voxel centres (x of the column, y of the row) in flattened order.</summary>
    internal static IReadOnlyList<(double[] X, double[] Y)> ToyCentres { get; } = CaloGeometry.Layers.Select(g =>
    {
        var x = new double[g.Voxels];
        var y = new double[g.Voxels];
        for (int r = 0; r < g.Rows; r++)
            for (int c = 0; c < g.Columns; c++) { x[r * g.Columns + c] = g.ColumnCentre(c); y[r * g.Columns + c] = g.RowCentre(r); }
        return (x, y);
    }).ToArray();

    private static readonly Layer[] ToyLayers = CaloGeometry.Layers
        .Select((g, l) => new Layer(l.ToString(System.Globalization.CultureInfo.InvariantCulture), g.Offset, ToyCentres[l].X, ToyCentres[l].Y, true)).ToArray();

    private sealed record Layer(string Label, int Offset, double[] X, double[] Y, bool Lateral);

    private static CaloHighLevelFeatures Compute(double[] voxels, double[] incident, int width, Layer[] layers)
    {
        int n = incident.Length, m = layers.Length;
        var f = new CaloHighLevelFeatures(incident);
        var ratio = new double[n];
        var energy = new double[m][];
        var lateral = layers.Select((l, k) => (l, k)).Where(t => t.l.Lateral).ToArray();
        var moments = new double[lateral.Length * 4][];
        for (int k = 0; k < m; k++) energy[k] = new double[n];
        for (int k = 0; k < moments.Length; k++) moments[k] = new double[n];
        for (int i = 0; i < n; i++)
        {
            if (!(incident[i] > 0) || !double.IsFinite(incident[i])) throw new ArgumentException($"shower {i}: E_inc = {incident[i]} GeV; the high-level features need E_inc > 0");
            var shower = voxels.AsSpan(i * width, width);
            double total = 0;
            foreach (double v in shower) total += v;
            ratio[i] = total / incident[i];
            for (int k = 0; k < m; k++)
            {
                double e = 0;
                foreach (double v in shower.Slice(layers[k].Offset, layers[k].X.Length)) e += v;
                energy[k][i] = e;
            }
            for (int t = 0; t < lateral.Length; t++)
            {
                var l = lateral[t].l;
                var (_, _, cx, cy, wx, wy) = Moments(shower.Slice(l.Offset, l.X.Length), l.X, l.Y);
                moments[4 * t][i] = cx; moments[4 * t + 1][i] = cy; moments[4 * t + 2][i] = wx; moments[4 * t + 3][i] = wy;
            }
        }
        f.Add("E_dep/E_inc", ratio, false);
        for (int k = 0; k < m; k++) f.Add($"E layer {layers[k].Label} (GeV)", energy[k], true);
        string[] kinds = ["centre x", "centre y", "width x", "width y"];
        for (int q = 0; q < 4; q++)
            for (int t = 0; t < lateral.Length; t++) f.Add($"{kinds[q]} layer {lateral[t].l.Label} (mm)", moments[4 * t + q], false);
        return f;
    }

    private void Add(string name, double[] values, bool log)
    {
        names.Add(name);
        columns.Add(values);
        logarithmic.Add(log);
    }
}
