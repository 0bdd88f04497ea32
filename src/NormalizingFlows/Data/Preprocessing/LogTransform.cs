using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Data.Preprocessing;

/// <summary>
/// Per-column logarithm for positive (or shifted-positive) columns: y = log(x − shift), log|det| = −Σ log(x − shift)
/// per row; Inverse: x = exp(y) + shift, log|det| = Σ y. Buffer (saved and loaded): "shift" [D]. Defined only for
/// x &gt; shift: below it the output is NaN (log of a negative number) — inside <see cref="PreprocessingPipeline{T}"/>
/// a <see cref="DomainGuard{T}"/> turns such rows into log-probability −∞ first. Columns flagged "upper" are
/// reflected: y = log(shift − x) (defined for x &lt; shift), Inverse x = shift − exp(y); the flags come from the
/// preprocessing spec, not from a buffer.
/// </summary>
public sealed class LogTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> _shift;
    private readonly double[] _shiftD;
    private readonly double[] _sign;

    /// <summary>Creates y = log(x − <paramref name="shift"/>[j]) per column (finite shifts; 0 for strictly positive columns).</summary>
    public LogTransform(ReadOnlySpan<double> shift) : this(shift, default)
    {
    }

    /// <summary>
    /// As the one-argument constructor, but the columns with <paramref name="upper"/>[j] true are bounded above:
    /// y = log(shift[j] − x). An empty <paramref name="upper"/> means no such column.
    /// </summary>
    public LogTransform(ReadOnlySpan<double> shift, ReadOnlySpan<bool> upper) : base(shift.Length)
    {
        if (!upper.IsEmpty && upper.Length != shift.Length)
            throw new ArgumentException($"upper has {upper.Length} entries for {shift.Length} columns", nameof(upper));
        _sign = new double[shift.Length];
        for (int j = 0; j < shift.Length; j++) _sign[j] = !upper.IsEmpty && upper[j] ? -1.0 : 1.0;
        for (int j = 0; j < shift.Length; j++)
            if (!double.IsFinite(shift[j])) throw new ArgumentException($"shift[{j}] = {shift[j]} must be finite", nameof(shift));
        _shift = RegisterBuffer("shift", Tensor<T>.FromDoubles(shift, shift.Length));
        _shiftD = new double[shift.Length];
        Refresh();
    }

    /// <summary>The per-column shift (buffer "shift").</summary>
    public Tensor<T> Shift => _shift;

    /// <summary>Per column: true for log(shift − x) (a column bounded above), false for log(x − shift).</summary>
    public IReadOnlyList<bool> Upper => _sign.Select(s => s < 0).ToArray();

    /// <inheritdoc/>
    protected override void OnStateLoaded()
    {
        base.OnStateLoaded();
        Refresh();
    }

    // the double constants are read back from the buffer, so a float model computes the same before saving and after loading
    private void Refresh()
    {
        var s = _shift.ReadOnlySpan;
        for (int j = 0; j < _shiftD.Length; j++) _shiftD[j] = double.CreateTruncating(s[j]);
    }

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        return PerColumnOp.Apply(x, (v, j) =>
        {
            double sg = _sign[j], u = sg * (v - _shiftD[j]), l = Math.Log(u);
            return (l, -l, sg / u, -sg / u);
        });
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        return PerColumnOp.Apply(y, (v, j) =>
        {
            double e = Math.Exp(v), sg = _sign[j];
            return (_shiftD[j] + sg * e, v, sg * e, 1.0);
        });
    }
}
