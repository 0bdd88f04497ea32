using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;

namespace NormalizingFlows.Nn;

/// <summary>
/// Residual block as in nflows: h + L₂(drop(act(L₁(act(h))))) with optional batch norm before each activation; the
/// last linear L₂ starts near zero (U(−1e−3, 1e−3)) so the block starts close to the identity. With context c the
/// update is gated: update∘sigmoid(Lc(c)) (nflows' GLU).
/// </summary>
public sealed class ResidualBlock<T> : Module<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Linear<T> _l0, _l1;
    private readonly Linear<T>? _context;
    private readonly BatchNorm1d<T>? _bn0, _bn1;
    private readonly Dropout<T>? _dropout;
    private readonly Activation _activation;

    /// <summary>Creates a block of width <paramref name="features"/>.</summary>
    public ResidualBlock(int features, Rng rng, int contextFeatures = 0, Activation activation = Activation.Relu,
        double dropout = 0.0, bool useBatchNorm = false, bool zeroInitialization = true)
    {
        _activation = activation;
        if (useBatchNorm)
        {
            _bn0 = RegisterModule("bn0", new BatchNorm1d<T>(features, eps: 1e-3));
            _bn1 = RegisterModule("bn1", new BatchNorm1d<T>(features, eps: 1e-3));
        }
        if (contextFeatures > 0) _context = RegisterModule("context", new Linear<T>(contextFeatures, features, rng));
        _l0 = RegisterModule("linear0", new Linear<T>(features, features, rng));
        _l1 = RegisterModule("linear1", new Linear<T>(features, features, rng, init: zeroInitialization ? LinearInit.NearZero : LinearInit.Default));
        if (dropout > 0) _dropout = RegisterModule("dropout", new Dropout<T>(dropout, rng.Split()));
    }

    /// <summary>Applies the block; <paramref name="context"/> is required exactly when the block was built with context features.</summary>
    public Var<T> Forward(Var<T> x, Var<T>? context = null)
    {
        var t = x;
        if (_bn0 is not null) t = _bn0.Forward(t);
        t = Activations.Apply(_activation, t);
        t = _l0.Forward(t);
        if (_bn1 is not null) t = _bn1.Forward(t);
        t = Activations.Apply(_activation, t);
        if (_dropout is not null) t = _dropout.Forward(t);
        t = _l1.Forward(t);
        if (_context is not null)
        {
            if (context is null) throw new ArgumentException("ResidualBlock was built with context features: pass the context");
            t = Ops.Mul(t, Ops.Sigmoid(_context.Forward(context)));
        }
        return Ops.Add(x, t);
    }
}
