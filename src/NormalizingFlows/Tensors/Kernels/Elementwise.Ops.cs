using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormalizingFlows.Tensors.Kernels;

// Vector operator structs used by the Elementwise drivers (float transcendental ones need VectorMath.IsSupported).

internal struct ExpOp : IVec1<float> { public readonly Vector256<float> Invoke(Vector256<float> x) => VectorMath.Exp(x); }
internal struct LogOp : IVec1<float> { public readonly Vector256<float> Invoke(Vector256<float> x) => VectorMath.Log(x); }
internal struct Log1pOp : IVec1<float> { public readonly Vector256<float> Invoke(Vector256<float> x) => VectorMath.Log1p(x); }
internal struct TanhOp : IVec1<float> { public readonly Vector256<float> Invoke(Vector256<float> x) => VectorMath.Tanh(x); }
internal struct SigmoidOp : IVec1<float> { public readonly Vector256<float> Invoke(Vector256<float> x) => VectorMath.Sigmoid(x); }
internal struct SoftplusOp : IVec1<float> { public readonly Vector256<float> Invoke(Vector256<float> x) => VectorMath.Softplus(x); }
internal struct SiluOp : IVec1<float> { public readonly Vector256<float> Invoke(Vector256<float> x) => VectorMath.Silu(x); }
internal struct EluOp : IVec1<float>
{
    public Vector256<float> Alpha;
    public readonly Vector256<float> Invoke(Vector256<float> x)
        => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, Alpha * VectorMath.Expm1NonPositive(x));
}
internal struct SoftplusBwdOp : IVec3<float>
{
    public readonly Vector256<float> Invoke(Vector256<float> x, Vector256<float> gy, Vector256<float> gx)
        => Fma.MultiplyAdd(gy, VectorMath.Sigmoid(x), gx);
}
internal struct SiluBwdOp : IVec3<float>
{
    public readonly Vector256<float> Invoke(Vector256<float> x, Vector256<float> gy, Vector256<float> gx)
        => Fma.MultiplyAdd(gy, VectorMath.SiluDerivative(x), gx);
}

internal struct ReluOp<T> : IVec1<T> where T : unmanaged
{ public readonly Vector256<T> Invoke(Vector256<T> x) => Vector256.AndNot(x, Vector256.LessThanOrEqual(x, Vector256<T>.Zero)); }
internal struct LeakyReluOp<T> : IVec1<T> where T : unmanaged
{
    public Vector256<T> Slope;
    public readonly Vector256<T> Invoke(Vector256<T> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), x, x * Slope);
}
internal struct SquareOp<T> : IVec1<T> where T : unmanaged { public readonly Vector256<T> Invoke(Vector256<T> x) => x * x; }
internal struct SqrtOp<T> : IVec1<T> where T : unmanaged { public readonly Vector256<T> Invoke(Vector256<T> x) => Vector256.Sqrt(x); }
internal struct AbsOp<T> : IVec1<T> where T : unmanaged { public readonly Vector256<T> Invoke(Vector256<T> x) => Vector256.Abs(x); }
internal struct AddOp<T> : IVec2<T> where T : unmanaged { public readonly Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a + b; }
internal struct SubOp<T> : IVec2<T> where T : unmanaged { public readonly Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a - b; }
internal struct MulOp<T> : IVec2<T> where T : unmanaged { public readonly Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a * b; }
internal struct DivOp<T> : IVec2<T> where T : unmanaged { public readonly Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a / b; }
internal struct ScaleShiftOp<T> : IVec1<T> where T : unmanaged
{
    public Vector256<T> Scale, Shift;
    public readonly Vector256<T> Invoke(Vector256<T> x) => Scale * x + Shift;
}
internal struct AxpyOp<T> : IVec2<T> where T : unmanaged
{
    public Vector256<T> Alpha;
    public readonly Vector256<T> Invoke(Vector256<T> x, Vector256<T> y) => y + Alpha * x;
}
internal struct MulAddOp<T> : IVec3<T> where T : unmanaged
{ public readonly Vector256<T> Invoke(Vector256<T> a, Vector256<T> b, Vector256<T> y) => y + a * b; }
internal struct ClampOp<T> : IVec1<T> where T : unmanaged
{
    public Vector256<T> Lo, Hi;
    public readonly Vector256<T> Invoke(Vector256<T> x)
    {
        x = Vector256.ConditionalSelect(Vector256.LessThan(x, Lo), Lo, x); // NaN fails both compares and stays
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Hi), Hi, x);
    }
}
internal struct LogBwdOp<T> : IVec3<T> where T : unmanaged
{ public readonly Vector256<T> Invoke(Vector256<T> x, Vector256<T> gy, Vector256<T> gx) => gx + gy / x; }
internal struct Log1pBwdOp<T> : IVec3<T> where T : unmanaged
{ public readonly Vector256<T> Invoke(Vector256<T> x, Vector256<T> gy, Vector256<T> gx) => gx + gy / (Vector256<T>.One + x); }
internal struct TanhBwdOp<T> : IVec3<T> where T : unmanaged
{ public readonly Vector256<T> Invoke(Vector256<T> y, Vector256<T> gy, Vector256<T> gx) => gx + gy * (Vector256<T>.One - y * y); }
internal struct SigmoidBwdOp<T> : IVec3<T> where T : unmanaged
{ public readonly Vector256<T> Invoke(Vector256<T> y, Vector256<T> gy, Vector256<T> gx) => gx + gy * y * (Vector256<T>.One - y); }
internal struct ReluBwdOp<T> : IVec3<T> where T : unmanaged
{ public readonly Vector256<T> Invoke(Vector256<T> x, Vector256<T> gy, Vector256<T> gx) => gx + (gy & Vector256.GreaterThan(x, Vector256<T>.Zero)); }
internal struct LeakyReluBwdOp<T> : IVec3<T> where T : unmanaged
{
    public Vector256<T> Slope;
    public readonly Vector256<T> Invoke(Vector256<T> x, Vector256<T> gy, Vector256<T> gx)
        => gx + Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), gy, Slope * gy);
}
internal struct EluBwdOp<T> : IVec4<T> where T : unmanaged
{
    public Vector256<T> Alpha;
    public readonly Vector256<T> Invoke(Vector256<T> x, Vector256<T> y, Vector256<T> gy, Vector256<T> gx)
        => gx + Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), gy, gy * (y + Alpha));
}
