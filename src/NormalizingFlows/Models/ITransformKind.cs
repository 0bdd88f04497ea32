using System.Numerics;
using System.Text.Json.Nodes;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;

namespace NormalizingFlows.Models;

/// <summary>
/// How a user transform type is written into a flow's architecture and rebuilt from it (register it with
/// <see cref="FlowArchitecture.RegisterTransform"/>). The rebuilt transform must have the same parameters and
/// buffers; their values come from the model file.
/// </summary>
public interface ITransformKind
{
    /// <summary>The kind name written as "kind" (distinct from the library's kinds).</summary>
    string Name { get; }

    /// <summary>True when this kind describes <paramref name="transform"/> (e.g. <c>transform is MyStep&lt;T&gt;</c>).</summary>
    bool Describes<T>(Transform<T> transform) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Every setting needed to rebuild <paramref name="transform"/> (any JSON object; "kind" is added).</summary>
    JsonObject Describe<T>(Transform<T> transform) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>A fresh transform from <see cref="Describe{T}"/>'s output.</summary>
    Transform<T> Build<T>(JsonObject settings, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>;
}
