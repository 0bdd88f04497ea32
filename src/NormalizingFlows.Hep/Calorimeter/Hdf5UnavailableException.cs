namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>Thrown when the system's HDF5 library cannot be loaded; the message names the package to install.</summary>
public sealed class Hdf5UnavailableException : IOException
{
    /// <summary>Creates the exception.</summary>
    public Hdf5UnavailableException(string message) : base(message) { }
}
