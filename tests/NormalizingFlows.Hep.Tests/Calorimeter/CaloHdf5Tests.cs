using NormalizingFlows.Hep.Calorimeter;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

public class CaloHdf5Tests
{
    [Fact]
    public void AMissingLibraryGivesAMessageNamingThePackage()
    {
        var e = Assert.Throws<Hdf5UnavailableException>(() => CaloHdf5.LoadLibraryFrom(["libdoes-not-exist-hdf5.so.999"]));
        Assert.Contains("apt-get install libhdf5-103-1", e.Message);
        Assert.True(CaloHdf5.IsHdf5Path("x/showers.H5"));
        Assert.False(CaloHdf5.IsHdf5Path("showers.npy"));
    }

    /// <summary>Runs on every machine: the reader and writer pointed at a library that does not exist.</summary>
    [Fact]
    public void ReadAndWriteWithoutTheLibraryThrowHdf5UnavailableAndWriteNothing()
    {
        string[] none = ["libnflow-test-no-such-hdf5.so.0"];
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 3, 1);
        var dir = Path.Combine(Path.GetTempPath(), $"calo-h5-absent-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string target = Path.Combine(dir, "a.h5");
            var w = Assert.Throws<Hdf5UnavailableException>(() => CaloHdf5.Write(target, showers, CaloHdf5Layout.CaloGan, none));
            Assert.Contains("libhdf5-103-1", w.Message);
            Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
            // a missing file and an existing one: the missing library is what is reported, not FileNotFoundException
            Assert.Throws<Hdf5UnavailableException>(() => CaloHdf5.Read(target, none));
            File.WriteAllText(target, "not hdf5");
            var r = Assert.Throws<Hdf5UnavailableException>(() => CaloHdf5.Read(target, none));
            Assert.Contains("libhdf5-103-1", r.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ShowersRoundTripThroughBothLayoutsOrTheMissingLibraryIsNamed()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Photon, 20, 1);
        var dir = Path.Combine(Path.GetTempPath(), $"calo-h5-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            if (!CaloHdf5.IsAvailable)
            {
                var e = Assert.Throws<Hdf5UnavailableException>(() => CaloHdf5.Write(Path.Combine(dir, "a.h5"), showers));
                Assert.Contains("libhdf5-103-1", e.Message);
                Assert.Throws<Hdf5UnavailableException>(() => CaloHdf5.Read(Path.Combine(dir, "a.h5")));
                return;
            }
            foreach (var layout in new[] { CaloHdf5Layout.CaloGan, CaloHdf5Layout.CaloChallenge })
            {
                string path = Path.Combine(dir, $"{layout}.h5");
                CaloHdf5.Write(path, showers, layout);
                var back = CaloHdf5.Read(path);
                Assert.Equal(showers.Count, back.Count);
                for (int i = 0; i < showers.Voxels.Length; i++) Assert.Equal(showers.Voxels[i], back.Voxels[i], 1e-6 * Math.Max(1, showers.Voxels[i]));
                for (int i = 0; i < showers.Count; i++) Assert.Equal(showers.IncidentEnergies[i], back.IncidentEnergies[i], 1e-5 * showers.IncidentEnergies[i]);
            }
            var bad = Path.Combine(dir, "bad.h5");
            File.WriteAllText(bad, "not hdf5");
            Assert.Throws<NormalizingFlows.Data.DataFormatException>(() => CaloHdf5.Read(bad));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
