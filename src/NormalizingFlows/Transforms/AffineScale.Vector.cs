using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NormalizingFlows.Tensors.Kernels;

namespace NormalizingFlows.Transforms;

public readonly partial record struct AffineScale
{
    /// <summary>
    /// Float batch evaluation (AVX-512 or AVX2/FMA, the same values): from the raw outputs, log s, d(log s)/d raw and s = exp(log s) per element.
    /// An empty <paramref name="derivative"/> skips the derivative (evaluation without gradients). Matches the scalar
    /// <see cref="Evaluate(double)"/> to float accuracy.
    /// </summary>
    internal void Evaluate(ReadOnlySpan<float> raw, Span<float> logScale, Span<float> derivative, Span<float> scale)
    {
        int n = raw.Length, i = 0;
        bool withDerivative = !derivative.IsEmpty;
        // (the derivative's division is skipped inside EvaluateVector, not just its store)
        if (VectorMath.IsSupported512)
            for (; i + 16 <= n; i += 16)
            {
                var (l, d, s) = EvaluateVector(Vector512.Create(raw.Slice(i, 16)), withDerivative);
                l.CopyTo(logScale.Slice(i, 16));
                if (withDerivative) d.CopyTo(derivative.Slice(i, 16));
                s.CopyTo(scale.Slice(i, 16));
            }
        if (VectorMath.IsSupported)
            for (; i + 8 <= n; i += 8)
            {
                var (l, d, s) = EvaluateVector(Vector256.Create(raw.Slice(i, 8)), withDerivative);
                l.CopyTo(logScale.Slice(i, 8));
                if (withDerivative) d.CopyTo(derivative.Slice(i, 8));
                s.CopyTo(scale.Slice(i, 8));
            }
        if (VectorMath.IsSupported && i < n)
        {
            // the tail through the same vector code, padded: each element's result is then independent of where
            // chunk boundaries fall (bit-identical results for any thread count)
            Span<float> t = stackalloc float[8];
            t.Clear();
            raw[i..].CopyTo(t);
            var (l, d, s) = EvaluateVector(Vector256.Create(t), withDerivative);
            int rest = n - i;
            for (int j = 0; j < rest; j++)
            {
                logScale[i + j] = l[j];
                if (withDerivative) derivative[i + j] = d[j];
                scale[i + j] = s[j];
            }
            return;
        }
        for (; i < n; i++)
        {
            var (l, d) = Evaluate(raw[i]);
            logScale[i] = (float)l;
            if (withDerivative) derivative[i] = (float)d;
            scale[i] = (float)Math.Exp(l);
        }
    }

    // <generic> tools/NormalizingFlows.Generators writes the Vector512 twin of this section

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private (Vector256<float> L, Vector256<float> D, Vector256<float> S) EvaluateVector(Vector256<float> raw, bool withDerivative)
    {
        var one = Vector256.Create(1f);
        if (Kind == AffineScaleKind.Sigmoid)
        {
            var (sig, oms) = VectorMath.SigmoidBoth(raw + Vector256.Create(2f));
            var s = sig + Vector256.Create(1e-3f);
            return (VectorMath.Log(s), withDerivative ? sig * oms / s : default, s);
        }
        if (Kind == AffineScaleKind.Softplus)
        {
            var v = raw + Vector256.Create((float)SoftplusOffset);
            var s = VectorMath.Softplus(v) + Vector256.Create(1e-3f);
            return (VectorMath.Log(s), withDerivative ? VectorMath.Sigmoid(v) / s : default, s);
        }
        if (Kind == AffineScaleKind.RationalClampedExp)
        {
            var q = one / (one + Vector256.Abs(raw) * Vector256.Create((float)(1 / Bound)));
            var lr = raw * q;
            return (lr, q * q, VectorMath.Exp(lr));
        }
        if (float.IsPositiveInfinity((float)Bound)) return (raw, one, VectorMath.Exp(raw));
        var c = Vector256.Create((float)Bound);
        var th = VectorMath.Tanh(raw * Vector256.Create((float)(1 / Bound)));
        var l2 = c * th;
        return (l2, one - th * th, VectorMath.Exp(l2));
    }

    // </generic>
}
