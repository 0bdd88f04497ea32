namespace NormalizingFlows.IO;

/// <summary>Element types this library reads and writes in safetensors files.</summary>
public enum SafeTensorDType
{
    /// <summary>IEEE 754 single precision ("F32").</summary>
    F32,
    /// <summary>IEEE 754 double precision ("F64").</summary>
    F64,
}
