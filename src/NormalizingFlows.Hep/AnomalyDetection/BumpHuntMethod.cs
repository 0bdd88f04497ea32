namespace NormalizingFlows.Hep.AnomalyDetection;

/// <summary>The anomaly detectors and baselines of a bump hunt.</summary>
public enum BumpHuntMethod
{
    /// <summary>Classifier of true signal against true background in the signal region (labels known): the upper limit.</summary>
    Supervised,
    /// <summary>Idealized anomaly detector: classifier of signal-region data against a perfect background sample from the generator.</summary>
    Idealized,
    /// <summary>CATHODE: classifier of signal-region data against synthetic background from the sideband flow.</summary>
    Cathode,
    /// <summary>ANODE: density ratio p_inner/p_outer.</summary>
    Anode,
    /// <summary>CWoLa hunting: classifier of signal-region data against neighbouring sideband data.</summary>
    CWoLa,
    /// <summary>Uniformly random scores.</summary>
    Random,
}
