using NormalizingFlows.Data;
using NormalizingFlows.Hep.Calorimeter;
using PureHDF;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

public sealed class CaloHdf5Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("calo-h5-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(_dir, name);

    /// <summary>What a float32 file holds for a GeV value written as MeV (× <paramref name="scale"/>) and read back.</summary>
    private static double Stored(double value, double scale) => (float)(value * scale) / scale;

    [Fact]
    public void Hdf5PathsAreRecognisedByExtension()
    {
        Assert.True(CaloHdf5.IsHdf5Path("x/showers.H5"));
        Assert.True(CaloHdf5.IsHdf5Path("showers.hdf5"));
        Assert.False(CaloHdf5.IsHdf5Path("showers.npy"));
    }

    [Theory]
    [InlineData(CaloHdf5Layout.CaloGan, false)]
    [InlineData(CaloHdf5Layout.CaloGan, true)]
    [InlineData(CaloHdf5Layout.CaloChallenge, false)]
    [InlineData(CaloHdf5Layout.CaloChallenge, true)]
    public void ShowersRoundTripThroughBothLayoutsWithoutANativeLibrary(CaloHdf5Layout layout, bool compress)
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 20, 1);
        string path = P($"{layout}-{compress}.h5");
        CaloHdf5.Write(path, showers, layout, compress);
        var back = CaloHdf5.Read(path);
        Assert.Equal(showers.Count, back.Count);
        double eScale = layout == CaloHdf5Layout.CaloGan ? 1 : 1000;
        for (int i = 0; i < showers.Voxels.Length; i++) Assert.Equal(Stored(showers.Voxels[i], 1000), back.Voxels[i]);
        for (int i = 0; i < showers.Count; i++) Assert.Equal(Stored(showers.IncidentEnergies[i], eScale), back.IncidentEnergies[i]);
        Assert.Empty(Directory.EnumerateFiles(_dir, "*.tmp*"));
    }

    [Fact]
    public void DeflateCompressedFilesAreSmallerAndCarryTheFilter()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 200, 2);
        CaloHdf5.Write(P("plain.h5"), showers, CaloHdf5Layout.CaloGan, compress: false);
        CaloHdf5.Write(P("gzip.h5"), showers, CaloHdf5Layout.CaloGan, compress: true);
        Assert.True(new FileInfo(P("gzip.h5")).Length < new FileInfo(P("plain.h5")).Length / 2,
            $"deflate: {new FileInfo(P("gzip.h5")).Length} bytes vs {new FileInfo(P("plain.h5")).Length} uncompressed");
        using (var f = H5File.OpenRead(P("gzip.h5")))
            Assert.Equal(H5DataLayoutClass.Chunked, f.Dataset("layer_0").Layout.Class);
        Assert.Equal(CaloHdf5.Read(P("plain.h5")).Voxels, CaloHdf5.Read(P("gzip.h5")).Voxels);
    }

    [Theory]
    [InlineData(368, false)]
    [InlineData(533, true)]
    public void ChallengeDataset1RoundTripsWithItsGeometryDetected(int voxels, bool compress)
    {
        var dataset = CaloChallengeDataset.WithVoxels(voxels)!;
        Assert.Equal(voxels, dataset.Layers.Sum(l => l.Voxels));
        var rng = new Random(5);
        int n = 7;
        var e = Enumerable.Range(0, n).Select(_ => 1 + 999 * rng.NextDouble()).ToArray();
        var v = Enumerable.Range(0, n * voxels).Select(_ => rng.NextDouble() < 0.5 ? 0 : rng.NextDouble()).ToArray();
        var showers = new CaloChallengeShowers(dataset, v, e);
        CaloHdf5.WriteChallenge(P("ds1.h5"), showers, compress);
        var back = CaloHdf5.ReadChallenge(P("ds1.h5"));
        Assert.Same(dataset, back.Dataset);
        Assert.Equal(v.Select(x => Stored(x, 1000)), back.Voxels);
        Assert.Equal(e.Select(x => Stored(x, 1000)), back.IncidentEnergies);
        var last = dataset.Layers.Count - 1;
        Assert.Equal(back.Shower(3)[dataset.Layers[last].Offset..].ToArray().Sum(), back.LayerEnergy(3, last), 12);

        var other = voxels == 368 ? CaloChallengeDataset.Dataset1Pions : CaloChallengeDataset.Dataset1Photons;
        var wrong = Assert.Throws<DataFormatException>(() => CaloHdf5.ReadChallenge(P("ds1.h5"), other));
        Assert.Contains("'showers'", wrong.Message);
        Assert.Contains(P("ds1.h5"), wrong.Message);
        // the CaloGAN-geometry reader refuses a data set 1 file by naming the dataset and the shape it expected
        var gan = Assert.Throws<DataFormatException>(() => CaloHdf5.Read(P("ds1.h5")));
        Assert.Contains($"'showers' has shape [{n}, {voxels}], expected [{n}, 504]", gan.Message);
    }

    [Fact]
    public void ReadAnyGeometryTellsToyFromChallengeShowersInOneRead()
    {
        var toy = new ToyCalorimeter().Simulate(CaloParticle.Photon, 5, 2);
        foreach (var layout in new[] { CaloHdf5Layout.CaloGan, CaloHdf5Layout.CaloChallenge })
        {
            CaloHdf5.Write(P("toy.h5"), toy, layout);
            var (t, c) = CaloHdf5.ReadAnyGeometry(P("toy.h5"));
            Assert.Null(c);
            Assert.Equal(CaloHdf5.Read(P("toy.h5")).Voxels, t!.Voxels);
        }
        var ds = CaloChallengeDataset.Dataset1Photons;
        CaloHdf5.WriteChallenge(P("ds1.h5"), new CaloChallengeShowers(ds, Enumerable.Range(0, 2 * ds.Voxels).Select(i => i % 7 * 0.01).ToArray(), [10, 20]));
        var (none, challenge) = CaloHdf5.ReadAnyGeometry(P("ds1.h5"));
        Assert.Null(none);
        Assert.Same(ds, challenge!.Dataset);
        Assert.Equal(CaloHdf5.ReadChallenge(P("ds1.h5")).Voxels, challenge.Voxels);
        new H5File { ["incident_energies"] = new H5Dataset(new float[5], fileDims: [5, 1]), ["showers"] = new H5Dataset(new float[5 * 100], fileDims: [5, 100]) }.Write(P("odd.h5"));
        var odd = Assert.Throws<DataFormatException>(() => CaloHdf5.ReadAnyGeometry(P("odd.h5")));
        Assert.Contains(P("odd.h5"), odd.Message);
        Assert.Contains("100 voxels per shower, which is none of the known geometries", odd.Message);
        Assert.Contains("or the toy CaloGAN geometry (504 voxels)", odd.Message);
    }

    [Fact]
    public void Float64DatasetsAndFlatEnergiesAreRead()
    {
        var rng = new Random(3);
        var e = Enumerable.Range(0, 4).Select(_ => 1000 + 1000 * rng.NextDouble()).ToArray();
        var s = Enumerable.Range(0, 4 * 368).Select(_ => rng.NextDouble()).ToArray();
        new H5File { ["incident_energies"] = e, ["showers"] = new H5Dataset(s, fileDims: [4, 368]) }.Write(P("f64.h5"));
        var back = CaloHdf5.ReadChallenge(P("f64.h5"), CaloChallengeDataset.Dataset1Photons);
        Assert.Equal(e.Select(x => x / 1000), back.IncidentEnergies);
        Assert.Equal(s.Select(x => x / 1000), back.Voxels);
    }

    [Fact]
    public void ErrorsNameTheFileAndTheDataset()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 5, 1);
        void Fails(string file, string expected, Action read)
        {
            var e = Assert.Throws<DataFormatException>(read);
            Assert.Contains(P(file), e.Message);
            Assert.Contains(expected, e.Message);
        }

        new H5File { ["energy"] = new H5Dataset(new float[5], fileDims: [5, 1]), ["layer_0"] = new H5Dataset(new float[5 * 288], fileDims: [5, 3, 96]) }.Write(P("nolayer.h5"));
        Fails("nolayer.h5", "dataset 'layer_1' is missing", () => CaloHdf5.Read(P("nolayer.h5")));

        new H5File { ["showers"] = new H5Dataset(new float[5 * 368], fileDims: [5, 368]) }.Write(P("noenergy.h5"));
        Fails("noenergy.h5", "dataset 'incident_energies' is missing", () => CaloHdf5.ReadChallenge(P("noenergy.h5")));
        Fails("noenergy.h5", "neither the CaloGAN layout", () => CaloHdf5.Read(P("noenergy.h5")));

        new H5File { ["incident_energies"] = new H5Dataset(new float[5], fileDims: [5, 1]), ["showers"] = new H5Dataset(new float[5 * 100], fileDims: [5, 100]) }.Write(P("odd.h5"));
        Fails("odd.h5", "dataset 'showers' has 100 voxels per shower", () => CaloHdf5.ReadChallenge(P("odd.h5")));

        new H5File { ["incident_energies"] = new H5Dataset(new float[4], fileDims: [4, 1]), ["showers"] = new H5Dataset(new float[5 * 368], fileDims: [5, 368]) }.Write(P("rows.h5"));
        Fails("rows.h5", "dataset 'showers' has shape [5, 368], expected [4, N]", () => CaloHdf5.ReadChallenge(P("rows.h5")));

        new H5File { ["incident_energies"] = new H5Dataset(new int[5], fileDims: [5, 1]), ["showers"] = new H5Dataset(new float[5 * 368], fileDims: [5, 368]) }.Write(P("int.h5"));
        Fails("int.h5", "dataset 'incident_energies' holds FixedPoint values of 4 bytes; expected float32 or float64", () => CaloHdf5.ReadChallenge(P("int.h5")));

        new H5File { ["incident_energies"] = new H5Dataset(new float[5], fileDims: [5, 1]), ["showers"] = new H5Dataset(new float[5 * 368], fileDims: [5, 368]) }.Write(P("zero.h5"));
        Fails("zero.h5", "shower 0: incident energy 0 must be positive", () => CaloHdf5.ReadChallenge(P("zero.h5")));

        CaloHdf5.Write(P("whole.h5"), showers);
        var bytes = File.ReadAllBytes(P("whole.h5"));
        File.WriteAllBytes(P("cut.h5"), bytes[..(bytes.Length / 2)]);
        Fails("cut.h5", "truncated", () => CaloHdf5.Read(P("cut.h5")));
        File.WriteAllBytes(P("head.h5"), bytes[..40]);
        Fails("head.h5", "not a readable HDF5 file", () => CaloHdf5.Read(P("head.h5")));
        File.WriteAllText(P("text.h5"), "not hdf5");
        Fails("text.h5", "not a readable HDF5 file", () => CaloHdf5.Read(P("text.h5")));
        Assert.Throws<FileNotFoundException>(() => CaloHdf5.Read(P("absent.h5")));
    }
}
