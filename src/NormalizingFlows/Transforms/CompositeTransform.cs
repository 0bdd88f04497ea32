using System.Numerics;
using NormalizingFlows.Autograd;

namespace NormalizingFlows.Transforms;

/// <summary>Applies transforms in sequence (Forward: first to last; Inverse: last to first), adding the log-determinants.</summary>
public sealed class CompositeTransform<T> : Transform<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Transform<T>[] _steps;

    /// <summary>Chains <paramref name="steps"/>; all must have the same number of features.</summary>
    public CompositeTransform(params Transform<T>[] steps)
        : base(steps.Length > 0 ? steps[0].Features : throw new ArgumentException("a composite needs at least one transform"),
               steps.Max(s => s.ContextFeatures))
    {
        for (int i = 0; i < steps.Length; i++)
        {
            if (steps[i].Features != Features)
                throw new ArgumentException($"transform {i} ({TypeNames.Of(steps[i])}) has {steps[i].Features} features, the first has {Features}");
            if (steps[i].ContextFeatures != 0 && steps[i].ContextFeatures != ContextFeatures)
                throw new ArgumentException($"transform {i} ({TypeNames.Of(steps[i])}) expects {steps[i].ContextFeatures} context features, another expects {ContextFeatures}");
            RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), steps[i]);
        }
        _steps = steps;
    }

    /// <summary>The steps, in Forward order.</summary>
    public IReadOnlyList<Transform<T>> Steps => _steps;

    /// <inheritdoc/>
    public override (Var<T> Y, Var<T> LogAbsDet) Forward(Var<T> x, Var<T>? context = null)
    {
        CheckShapes(x, context);
        Var<T>? total = null;
        foreach (var step in _steps)
        {
            (x, var ld) = step.Forward(x, context);
            total = total is null ? ld : Ops.Add(total, ld);
        }
        return (x, total!);
    }

    /// <inheritdoc/>
    public override (Var<T> X, Var<T> LogAbsDet) Inverse(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        Var<T>? total = null;
        for (int i = _steps.Length - 1; i >= 0; i--)
        {
            (y, var ld) = _steps[i].Inverse(y, context);
            total = total is null ? ld : Ops.Add(total, ld);
        }
        return (y, total!);
    }

    /// <inheritdoc/>
    public override Var<T> InverseWithoutLogDet(Var<T> y, Var<T>? context = null)
    {
        CheckShapes(y, context);
        for (int i = _steps.Length - 1; i >= 0; i--) y = _steps[i].InverseWithoutLogDet(y, context);
        return y;
    }
}
