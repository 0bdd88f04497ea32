using NormalizingFlows.Transforms;

namespace NormalizingFlows.Tests.Transforms;

public static partial class TransformCatalog
{
    /// <summary>Elementwise, linear, normalisation, planar and radial transforms.</summary>
    public static readonly TransformCase[] Basic =
    [
        new("elementwise_affine", _ => new ElementwiseAffine<double>(4), _ => new ElementwiseAffine<float>(4), 4),
        new("fixed_affine", _ => FixedAffine<double>.Standardize([1.0, -2.0, 0.5], [2.0, 0.25, 3.0]),
            _ => FixedAffine<float>.Standardize([1.0, -2.0, 0.5], [2.0, 0.25, 3.0]), 3),
        new("fixed_affine_negative_scale", _ => new FixedAffine<double>([-1.5, 0.5, 2.0, -0.1], [0.3, 0.0, -1.0, 2.0]),
            _ => new FixedAffine<float>([-1.5, 0.5, 2.0, -0.1], [0.3, 0.0, -1.0, 2.0]), 4),
        // The matrix feeds the same inputs to Forward and Inverse (gradient check), so a case's domain must suit both
        // directions; sigmoid/tanh also saturate far out (σ(50) = 1 in double). Far-out rows of sigmoid, tanh and
        // softplus are covered in BasicTransformTests.
        new("sigmoid", _ => new Sigmoid<double>(3), _ => new Sigmoid<float>(3), 3, Domain: InputDomain.UnitInterval),
        new("inverse_sigmoid", _ => new InverseTransform<double>(new Sigmoid<double>(4)),
            _ => new InverseTransform<float>(new Sigmoid<float>(4)), 4, Domain: InputDomain.UnitInterval),
        new("logit", _ => new Logit<double>(4), _ => new Logit<float>(4), 4, Domain: InputDomain.UnitInterval),
        new("logit_eps", _ => new Logit<double>(3, eps: 1e-3), _ => new Logit<float>(3, eps: 1e-3), 3, Domain: InputDomain.UnitInterval),
        new("tanh", _ => new Tanh<double>(4), _ => new Tanh<float>(4), 4, Domain: InputDomain.Symmetric),
        new("inverse_tanh", _ => new InverseTransform<double>(new Tanh<double>(3)),
            _ => new InverseTransform<float>(new Tanh<float>(3)), 3, Domain: InputDomain.Symmetric),
        new("leaky_relu", _ => new LeakyRelu<double>(5, 0.2), _ => new LeakyRelu<float>(5, 0.2), 5),
        new("softplus", _ => new Softplus<double>(4), _ => new Softplus<float>(4), 4, Domain: InputDomain.UnitInterval),
        new("lu_linear_identity_init", _ => new LuLinear<double>(4), _ => new LuLinear<float>(4), 4),
        new("lu_linear", r => new LuLinear<double>(5, r), r => new LuLinear<float>(5, r), 5),
        new("inverse_lu_linear", r => new InverseTransform<double>(new LuLinear<double>(3, r)),
            r => new InverseTransform<float>(new LuLinear<float>(3, r)), 3),
        new("actnorm", _ => new ActNorm<double>(4), _ => new ActNorm<float>(4), 4),
        new("batchnorm", _ => new BatchNormTransform<double>(4), _ => new BatchNormTransform<float>(4), 4),
        new("planar", r => new Planar<double>(3, r), r => new Planar<float>(3, r), 3),
        new("planar_5", r => new Planar<double>(5, r), r => new Planar<float>(5, r), 5),
        new("inverse_planar", r => new InverseTransform<double>(new Planar<double>(4, r)),
            r => new InverseTransform<float>(new Planar<float>(4, r)), 4),
        new("radial", r => new Radial<double>(3, r), r => new Radial<float>(3, r), 3),
        new("radial_5", r => new Radial<double>(5, r), r => new Radial<float>(5, r), 5),
        new("inverse_radial", r => new InverseTransform<double>(new Radial<double>(4, r)),
            r => new InverseTransform<float>(new Radial<float>(4, r)), 4),
        new("composite_actnorm_lu_planar", r => new CompositeTransform<double>(new ActNorm<double>(4), new LuLinear<double>(4, r), new Planar<double>(4, r)),
            r => new CompositeTransform<float>(new ActNorm<float>(4), new LuLinear<float>(4, r), new Planar<float>(4, r)), 4),
    ];
}
