namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// The high-level shower observables of the CaloGAN/CaloFlow papers, one value per shower: layer energies E_i, total
/// energy, E_i/E_tot, shower depth d = Σ i·E_i/Σ E_i (layer index weighted by energy) and its width
/// σ_d = √(Σ i²E_i/Σ E_i − d²), per-layer sparsity (fraction of voxels above 0), energy-weighted centroids in x and y
/// (mm) and lateral widths (energy-weighted RMS of x, mm). Showers with no energy in a layer get 0 there.
/// </summary>
public sealed class CaloObservables
{
    private CaloObservables(int n)
    {
        IncidentEnergy = new double[n];
        TotalEnergy = new double[n];
        Depth = new double[n];
        DepthWidth = new double[n];
        LayerEnergy = [new double[n], new double[n], new double[n]];
        LayerFraction = [new double[n], new double[n], new double[n]];
        Sparsity = [new double[n], new double[n], new double[n]];
        CentroidX = [new double[n], new double[n], new double[n]];
        CentroidY = [new double[n], new double[n], new double[n]];
        LateralWidth = [new double[n], new double[n], new double[n]];
    }

    /// <summary>E_inc (GeV).</summary>
    public double[] IncidentEnergy { get; }
    /// <summary>Σ voxels (GeV).</summary>
    public double[] TotalEnergy { get; }
    /// <summary>Energy-weighted mean layer index.</summary>
    public double[] Depth { get; }
    /// <summary>Energy-weighted RMS of the layer index.</summary>
    public double[] DepthWidth { get; }
    /// <summary>E_i per layer (GeV): [layer][shower].</summary>
    public double[][] LayerEnergy { get; }
    /// <summary>E_i/E_tot per layer.</summary>
    public double[][] LayerFraction { get; }
    /// <summary>Fraction of the layer's voxels with energy &gt; 0.</summary>
    public double[][] Sparsity { get; }
    /// <summary>Energy-weighted x centroid per layer (mm).</summary>
    public double[][] CentroidX { get; }
    /// <summary>Energy-weighted y centroid per layer (mm).</summary>
    public double[][] CentroidY { get; }
    /// <summary>Energy-weighted RMS of x per layer (mm).</summary>
    public double[][] LateralWidth { get; }

    /// <summary>Number of showers.</summary>
    public int Count => IncidentEnergy.Length;

    /// <summary>Computes the observables of every shower.</summary>
    public static CaloObservables Compute(CaloShowers showers)
    {
        ArgumentNullException.ThrowIfNull(showers);
        int n = showers.Count;
        var o = new CaloObservables(n);
        var layers = CaloGeometry.Layers;
        for (int i = 0; i < n; i++)
        {
            var s = showers.Shower(i);
            o.IncidentEnergy[i] = showers.IncidentEnergies[i];
            double tot = 0, d1 = 0, d2 = 0;
            for (int l = 0; l < 3; l++)
            {
                var g = layers[l];
                var (e, hit, cx, cy, width, _) = CaloHighLevelFeatures.Moments(s.Slice(g.Offset, g.Voxels), CaloHighLevelFeatures.ToyCentres[l].X, CaloHighLevelFeatures.ToyCentres[l].Y);
                o.LayerEnergy[l][i] = e;
                o.Sparsity[l][i] = hit / (double)g.Voxels;
                if (e > 0)
                {
                    o.CentroidX[l][i] = cx;
                    o.CentroidY[l][i] = cy;
                    o.LateralWidth[l][i] = width;
                }
                tot += e; d1 += l * e; d2 += l * l * e;
            }
            o.TotalEnergy[i] = tot;
            if (tot > 0)
            {
                for (int l = 0; l < 3; l++) o.LayerFraction[l][i] = o.LayerEnergy[l][i] / tot;
                o.Depth[i] = d1 / tot;
                o.DepthWidth[i] = Math.Sqrt(Math.Max(0, d2 / tot - o.Depth[i] * o.Depth[i]));
            }
        }
        return o;
    }

    /// <summary>The named one-dimensional observables, for histograms: (name, values).</summary>
    public IEnumerable<(string Name, double[] Values)> Named()
    {
        for (int l = 0; l < 3; l++) yield return ($"E_{l} (GeV)", LayerEnergy[l]);
        yield return ("E_tot (GeV)", TotalEnergy);
        for (int l = 0; l < 3; l++) yield return ($"E_{l}/E_tot", LayerFraction[l]);
        yield return ("shower depth d", Depth);
        yield return ("depth width σ_d", DepthWidth);
        for (int l = 0; l < 3; l++) yield return ($"sparsity layer {l}", Sparsity[l]);
        for (int l = 0; l < 3; l++) yield return ($"centroid x layer {l} (mm)", CentroidX[l]);
        for (int l = 0; l < 3; l++) yield return ($"centroid y layer {l} (mm)", CentroidY[l]);
        for (int l = 0; l < 3; l++) yield return ($"lateral width layer {l} (mm)", LateralWidth[l]);
    }

    /// <summary>The mean image of layer <paramref name="layer"/> over the showers, [rows, columns] in GeV.</summary>
    public static double[,] AverageImage(CaloShowers showers, int layer)
    {
        ArgumentNullException.ThrowIfNull(showers);
        var g = CaloGeometry.Layers[layer];
        var image = new double[g.Rows, g.Columns];
        for (int i = 0; i < showers.Count; i++)
        {
            var s = showers.Shower(i);
            for (int r = 0; r < g.Rows; r++)
                for (int c = 0; c < g.Columns; c++) image[r, c] += s[g.Offset + r * g.Columns + c];
        }
        if (showers.Count > 0)
            for (int r = 0; r < g.Rows; r++)
                for (int c = 0; c < g.Columns; c++) image[r, c] /= showers.Count;
        return image;
    }
}
