using NormalizingFlows.Tensors;

namespace NormalizingFlows.Data;

/// <summary>
/// The standard 2-D toy densities of the flow literature (moons, circles, 8gaussians, checkerboard, pinwheel,
/// swissroll, 2spirals) and an 18-D stand-in for LHC event kinematics ("tab18"), generated from a seed.
/// </summary>
public static class ToyDatasets
{
    /// <summary>Names accepted by <see cref="Generate"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["moons", "circles", "8gaussians", "checkerboard", "pinwheel", "swissroll", "2spirals", "tab18"];

    /// <summary>n rows of the named data set, deterministic for a seed.</summary>
    public static Table Generate(string name, int n, long seed = 0)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "need at least one row");
        var rng = new Rng(seed);
        return name.ToLowerInvariant() switch
        {
            "moons" => TwoD(n, rng, Moons),
            "circles" => TwoD(n, rng, Circles),
            "8gaussians" => TwoD(n, rng, EightGaussians),
            "checkerboard" => TwoD(n, rng, Checkerboard),
            "pinwheel" => TwoD(n, rng, Pinwheel),
            "swissroll" => TwoD(n, rng, SwissRoll),
            "2spirals" => TwoD(n, rng, TwoSpirals),
            "tab18" => Tab18(n, rng),
            _ => throw new ArgumentException($"unknown toy data set '{name}'; choose one of: {string.Join(", ", Names)}"),
        };
    }

    private delegate (double, double) Point(Rng rng);

    private static Table TwoD(int n, Rng rng, Point point)
    {
        var v = new double[2 * n];
        for (int i = 0; i < n; i++) (v[2 * i], v[2 * i + 1]) = point(rng);
        return new Table(["x0", "x1"], v, n);
    }

    // two interleaved half circles (scikit-learn's make_moons), noise 0.1
    private static (double, double) Moons(Rng r)
    {
        double t = Math.PI * r.NextDouble();
        bool upper = r.NextDouble() < 0.5;
        double x = upper ? Math.Cos(t) : 1 - Math.Cos(t);
        double y = upper ? Math.Sin(t) : 0.5 - Math.Sin(t);
        return (x + 0.1 * r.NextNormal(), y + 0.1 * r.NextNormal());
    }

    // two concentric circles (radii 1 and 0.5), noise 0.05, scaled by 3
    private static (double, double) Circles(Rng r)
    {
        double t = 2 * Math.PI * r.NextDouble();
        double rad = r.NextDouble() < 0.5 ? 1.0 : 0.5;
        return (3 * (rad * Math.Cos(t) + 0.05 * r.NextNormal()), 3 * (rad * Math.Sin(t) + 0.05 * r.NextNormal()));
    }

    // eight Gaussians (sd 0.5) on a circle of radius 4·√2 / √2 = 4 (as in FFJORD, scaled)
    private static (double, double) EightGaussians(Rng r)
    {
        int k = r.NextInt(8);
        double a = k * Math.PI / 4;
        return (4 * Math.Cos(a) + 0.5 * r.NextNormal(), 4 * Math.Sin(a) + 0.5 * r.NextNormal());
    }

    // uniform on the 8 dark squares of a 4×4 board on [−4, 4]² (FFJORD/NSF): best log-likelihood −ln 32
    private static (double, double) Checkerboard(Rng r)
    {
        double x1 = 4 * r.NextDouble() - 2;
        double parity = ((Math.Floor(x1) % 2) + 2) % 2; // Python's floor(x1) % 2 (non-negative)
        double x2 = r.NextDouble() - 2 * r.NextInt(2) + parity;
        return (2 * x1, 2 * x2);
    }

    // five curved arms (FFJORD's pinwheel)
    private static (double, double) Pinwheel(Rng r)
    {
        const int arms = 5;
        const double radial = 0.3, tangential = 0.1, rate = 0.25;
        int k = r.NextInt(arms);
        double a = (r.NextNormal() * radial + 1), b = r.NextNormal() * tangential;
        double angle = 2 * Math.PI * k / arms + rate * Math.Exp(a);
        double x = a * Math.Cos(angle) - b * Math.Sin(angle);
        double y = a * Math.Sin(angle) + b * Math.Cos(angle);
        return (2 * x, 2 * y);
    }

    // swiss roll (scikit-learn's make_swiss_roll projected to 2-D), noise 1.0, scaled by 1/5
    private static (double, double) SwissRoll(Rng r)
    {
        double t = 1.5 * Math.PI * (1 + 2 * r.NextDouble());
        return ((t * Math.Cos(t) + r.NextNormal()) / 5, (t * Math.Sin(t) + r.NextNormal()) / 5);
    }

    // two interleaved spirals (FFJORD)
    private static (double, double) TwoSpirals(Rng r)
    {
        double n = Math.Sqrt(r.NextDouble()) * 540 * (2 * Math.PI) / 360;
        double dx = -Math.Cos(n) * n + r.NextDouble() * 0.5;
        double dy = Math.Sin(n) * n + r.NextDouble() * 0.5;
        return r.NextDouble() < 0.5 ? (dx / 3, dy / 3) : (-dx / 3, -dy / 3);
    }

    /// <summary>Column names of the 18-D kinematics stand-in.</summary>
    public static string[] Tab18Columns { get; } =
        ["pt1", "pt2", "pt3", "pt4", "eta1", "eta2", "eta3", "eta4", "phi1", "phi2", "phi3", "phi4", "m1", "m2", "m3", "x1", "x2", "x3"];

    /// <summary>
    /// 18-D stand-in for LHC kinematics: a 6-component Gaussian mixture in 18-D pushed through a fixed random
    /// rotation and per-column warps: pt (positive, sharp thresholds at 15 and 10), eta in ±2.5, phi in ±π,
    /// masses (positive, soft edge at 0.5), heavy-tailed x. The mixture and rotation are fixed (seed 18), the
    /// events come from <paramref name="rng"/>.
    /// </summary>
    private static Table Tab18(int n, Rng rng)
    {
        const int d = 18, k = 6;
        var fixedRng = new Rng(18);
        var means = new double[k, d];
        var scales = new double[k, d];
        for (int c = 0; c < k; c++)
            for (int j = 0; j < d; j++) { means[c, j] = 1.5 * fixedRng.NextNormal(); scales[c, j] = 0.4 + 0.6 * fixedRng.NextDouble(); }
        var rot = RandomRotation(d, fixedRng);
        var v = new double[n * d];
        var z = new double[d];
        for (int i = 0; i < n; i++)
        {
            int c = rng.NextInt(k);
            for (int j = 0; j < d; j++) z[j] = means[c, j] + scales[c, j] * rng.NextNormal();
            var row = v.AsSpan(i * d, d);
            for (int a = 0; a < d; a++)
            {
                double s = 0;
                for (int b = 0; b < d; b++) s += rot[a, b] * z[b];
                row[a] = s;
            }
            for (int j = 0; j < 4; j++) row[j] = (j < 2 ? 15 : 10) + 20 * Math.Log(1 + Math.Exp(row[j]));          // pt: sharp thresholds
            for (int j = 4; j < 8; j++) row[j] = 2.5 * Math.Tanh(0.5 * row[j]);                                   // eta in ±2.5
            for (int j = 8; j < 12; j++) row[j] = Math.PI * Math.Tanh(row[j]);                                    // phi in ±π
            for (int j = 12; j < 15; j++) row[j] = 0.5 + Math.Log(1 + Math.Exp(2 * row[j])) / 2;                 // masses: soft edge at 0.5
            for (int j = 15; j < 18; j++) row[j] = Math.Sinh(0.8 * row[j]);                                       // heavy tails
        }
        return new Table((string[])Tab18Columns.Clone(), v, n);
    }

    private static double[,] RandomRotation(int d, Rng rng)
    {
        // Gram–Schmidt on a Gaussian matrix
        var q = new double[d, d];
        for (int i = 0; i < d; i++)
        {
            var col = new double[d];
            for (int j = 0; j < d; j++) col[j] = rng.NextNormal();
            for (int p = 0; p < i; p++)
            {
                double dot = 0;
                for (int j = 0; j < d; j++) dot += q[j, p] * col[j];
                for (int j = 0; j < d; j++) col[j] -= dot * q[j, p];
            }
            double norm = Math.Sqrt(col.Sum(e => e * e));
            for (int j = 0; j < d; j++) q[j, i] = col[j] / norm;
        }
        return q;
    }
}
