using NormalizingFlows.Autograd;
using NormalizingFlows.Distributions;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.Nn.Embeddings;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;
using NormalizingFlows.Transforms.Continuous;
using NormalizingFlows.Transforms.Coupling;
using NormalizingFlows.Transforms.Monotonic;
using NormalizingFlows.Transforms.Splines;

namespace NormalizingFlows.Cuda;

/// <summary>
/// Walks a flow's objects (as Export/TransformGraph does) into device layers: affine and rational-quadratic spline
/// couplings over MLPs or ResidualNets, affine and spline MAF layers and inverse autoregressive (IAF, distillation
/// student) layers over MADEs or residual MADEs (any hidden activation; with or without context), NAF's sigmoidal update in any of them, UMNN's in couplings and MAF layers (<see cref="DeviceUmnn"/>), circular splines on
/// periodic features (alone or masked with ordinary ones), Glow's ActNorm and LU-decomposed linear maps, planar and
/// radial maps, batch normalisation and fixed permutations (<see cref="DeviceParameterLayers"/>), a standard-normal, unit-cube uniform or PeriodicNormal base.
/// Anything else throws a <see cref="NotSupportedException"/> naming the part.
/// </summary>
internal static class DeviceFlowLayers
{
    /// <summary>One linear layer of the host flow: its parameters and (MADE) mask.</summary>
    internal readonly record struct HostLinear(Parameter<float> Weight, Parameter<float>? Bias, Tensor<float>? Mask);

    /// <summary>
    /// The flow's device layers; <paramref name="frozen"/>: weights only (<see cref="DeviceLinear.Frozen"/>, no
    /// incremental MADE), for a flow that is evaluated and differentiated by its input but never trained or sampled.
    /// </summary>
    public static List<IDeviceLayer> Compile(Flow<float> flow, ComputeDevice dev, bool frozen = false)
    {
        var layers = new List<IDeviceLayer>();
        try
        {
            int site = 0; // the flow's dropout networks, numbered for their masks' streams
            foreach (var step in Steps(flow))
            {
                if (DeviceParameterLayers.Compile(step, dev, frozen) is { } own)
                {
                    layers.Add(own);
                    continue;
                }
                if (step is ContinuousTransform<float> cnf)
                {
                    layers.Add(frozen ? throw new NotSupportedException("DeviceFlow: the transform ContinuousTransform is not supported in a frozen flow (a distillation's teacher)") : new DeviceContinuous(dev, cnf));
                    continue;
                }
                string where = TypeName(step);
                if (frozen && BatchNormsOf(step).Count > 0)
                    throw new NotSupportedException($"DeviceFlow: batch norm in the residual conditioner of {where} is not supported in a frozen flow (a distillation's teacher)");
                var update = UpdateOf(step) is UmnnUpdate umnn ? Umnn(dev, step, umnn, frozen) : Update(UpdateOf(step));
                var hosts = Linears(step);
                var linears = new List<DeviceLinear>();
                DeviceNetwork net;
                try
                {
                    foreach (var h in hosts) linears.Add(new DeviceLinear(dev, h.Weight, h.Bias, h.Mask, where, frozen));
                    net = Network(dev, step, [.. linears], site);
                    if (net.Dropout is not null) site++;
                }
                catch
                {
                    foreach (var l in linears) l.Dispose();
                    update.Dispose();
                    throw;
                }
                layers.Add(step switch
                {
                    CouplingTransform<float> c => new DeviceCoupling(dev, c.Mask.ConditioningIndices, c.Mask.TransformedIndices, update, net),
                    InverseAutoregressiveTransform<float> => new DeviceInverseAutoregressive(dev, step.Features, update, net),
                    _ => new DeviceAutoregressive(dev, step.Features, update, net, frozen ? null : Incremental(dev, (AutoregressiveTransform<float>)step, linears, hosts)),
                });
            }
            return layers;
        }
        catch
        {
            foreach (var l in layers) l.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A flow whose transform is an <see cref="EmbeddedContextTransform{T}"/> over a context embedding as the inner
    /// flow (same base) and that embedding; any other flow as it is, with <paramref name="embedding"/>. Another context
    /// map (a preprocessing, which runs on the host) is refused by name.
    /// </summary>
    public static (Flow<float> Flow, ContextEmbedding<float>? Embedding) Unwrap(Flow<float> flow, ContextEmbedding<float>? embedding)
    {
        ArgumentNullException.ThrowIfNull(flow);
        if (flow.Transform is not EmbeddedContextTransform<float> e) return (flow, embedding);
        if (embedding is not null) throw new ArgumentException("DeviceFlow: the flow has its own context map; give no embedding besides", nameof(embedding));
        if (e.Map is not ContextEmbedding<float> map)
            throw new NotSupportedException($"DeviceFlow: the context map {TypeName(e.Map)} is not supported (a context embedding is: run a context preprocessing on the host and compile the flow with its embedding)");
        return (new Flow<float>(e.Inner, flow.Base), map);
    }

    /// <summary>
    /// The device network of a step's conditioner over its device linears (in <see cref="Linears"/>' order): a
    /// feed-forward MLP or MADE with its activation (the MADE reads the context in its first and its output layer, the
    /// coupling MLP in its first), or a residual network (<see cref="DeviceResidualNetwork"/>: a ResidualNet's blocks
    /// gated by the context, a residual MADE's output reading it).
    /// </summary>
    private static DeviceNetwork Network(ComputeDevice dev, Transform<float> step, DeviceLinear[] linears, int site)
    {
        int c = step.ContextFeatures;
        double p = DropoutOf(step);
        DeviceDropout? Dropout(IEnumerable<int> widths) => p > 0 ? new DeviceDropout(dev, p, site, [.. widths]) : null;
        DeviceDropout? dropout = null;
        try
        {
            switch (ConditionerOf(step))
            {
                case ResidualNet<float> r:
                    dropout = Dropout(Enumerable.Repeat(linears[0].Out, r.BlockCount));
                    return new DeviceNetwork(dev, new DeviceResidualNetwork(dev, linears, r.BlockCount, c, gated: c > 0, contextAtOutput: false, DeviceActivation.Code(r.Activation), BatchNormsOf(step), dropout), c);
                case Made<float> { IsResidual: true } m:
                    dropout = Dropout(Enumerable.Repeat(linears[0].Out, m.BlockLayers.Count / 2));
                    return new DeviceNetwork(dev, new DeviceResidualNetwork(dev, linears, m.BlockLayers.Count / 2, c, gated: false, contextAtOutput: true, DeviceActivation.Code(m.Activation), dropout: dropout), c);
                case Mlp<float> mlp:
                    dropout = Dropout(linears.SkipLast(1).Select(l => l.Out));
                    return new DeviceNetwork(dev, linears, c, contextAtOutput: false, DeviceActivation.Code(mlp.Activation), dropout);
                case Made<float> made:
                    dropout = Dropout(linears.SkipLast(1).Select(l => l.Out));
                    return new DeviceNetwork(dev, linears, c, contextAtOutput: true, DeviceActivation.Code(made.Activation), dropout);
                case var other:
                    throw new NotSupportedException($"DeviceFlow: the conditioner {TypeName(other)} of {TypeName(step)} is not supported");
            }
        }
        catch
        {
            dropout?.Dispose();
            throw;
        }
    }

    /// <summary>The incremental sampler of a MAF layer's MADE or residual MADE (null when its masks do not follow the degrees: D full passes then).</summary>
    private static IIncrementalMade? Incremental(ComputeDevice dev, AutoregressiveTransform<float> step, List<DeviceLinear> linears, List<HostLinear> hosts)
    {
        var made = step.Made;
        if (made.IsResidual)
            return DeviceIncrementalResidualMade.TryCreate(dev, [.. linears], hosts.Select(h => h.Mask).ToList(), made.InputDegrees, made.HiddenDegrees(0),
                step.ContextFeatures, step.ParametersPerFeature, DeviceActivation.Code(made.Activation));
        var hidden = Enumerable.Range(0, made.Layers.Count - 1).Select(made.HiddenDegrees).ToList();
        return DeviceIncrementalMade.TryCreate(dev, [.. linears], hosts.Select(h => h.Mask).ToList(), made.InputDegrees, hidden, step.ContextFeatures, step.ParametersPerFeature, DeviceActivation.Code(made.Activation));
    }

    /// <summary>
    /// The UMNN update of a coupling or MAF layer with the layer's integrand network (its module "update"); an inverse
    /// autoregressive layer or a frozen flow (a distillation's teacher) with it is refused by name.
    /// </summary>
    private static DeviceUpdate Umnn(ComputeDevice dev, Transform<float> step, UmnnUpdate update, bool frozen)
    {
        if (frozen || step is InverseAutoregressiveTransform<float>)
            throw new NotSupportedException($"DeviceFlow: the elementwise update UmnnUpdate is not supported in {(frozen ? "a frozen flow (a distillation's teacher)" : "an inverse autoregressive layer")} (coupling and MAF layers are)");
        return new DeviceUpdate(new DeviceUmnn(dev, update, IntegrandOf(step)!));
    }

    /// <summary>The integrand network of a step whose update is UMNN (its module "update"); null for any other step.</summary>
    internal static IntegrandNetwork<float>? IntegrandOf(Transform<float> step)
    {
        if (step is not (CouplingTransform<float> or AutoregressiveTransform<float> or InverseAutoregressiveTransform<float>) || UpdateOf(step) is not UmnnUpdate) return null;
        return step.NamedChildren().FirstOrDefault(c => c.Key == "update").Value as IntegrandNetwork<float>
            ?? throw new NotSupportedException($"DeviceFlow: the UMNN update of {TypeName(step)} has no integrand network (module 'update')");
    }

    /// <summary>The host flow's layers in order, after checking the base and every step.</summary>
    public static List<Transform<float>> Steps(Flow<float> flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        BaseOf(flow);
        var steps = new List<Transform<float>>();
        Flatten(flow.Transform, steps);
        // each update first: one with weights of its own (UMNN's integrand network) is refused by name, not by the count below
        foreach (var step in steps.Where(s => !DeviceParameterLayers.Handles(s) && s is not ContinuousTransform<float> && UpdateOf(s) is not UmnnUpdate)) Update(UpdateOf(step));
        long counted = steps.Sum(s => Linears(s).Sum(h => (long)h.Weight.Value.Length + (h.Bias?.Value.Length ?? 0)) + DeviceParameterLayers.HostParameters(s).Sum(p => (long)p.Value.Length));
        if (counted != flow.ParameterCount())
            throw new NotSupportedException($"DeviceFlow: the flow has {flow.ParameterCount()} parameters, its conditioner networks and ActNorm, LU, planar, radial and batch-norm layers {counted}: parameters elsewhere are not supported");
        return steps;
    }

    /// <summary>
    /// The flow's base: a standard normal (false) or the uniform distribution on the unit cube [0, 1]^D (true,
    /// unit-hypercube flows such as i-flow's); any other base throws a <see cref="NotSupportedException"/> naming it.
    /// </summary>
    public static bool BaseOf(Flow<float> flow) => flow.Base switch
    {
        StandardNormal<float> or PeriodicNormal<float> => false,
        BoxUniform<float> box when box.Low.All(v => v == 0) && box.High.All(v => v == 1) => true,
        BoxUniform<float> => throw new NotSupportedException("DeviceFlow: the base distribution BoxUniform on a box other than the unit cube [0, 1]^D is not supported (a standard normal or the unit cube is)"),
        _ => throw new NotSupportedException($"DeviceFlow: the base distribution {TypeName(flow.Base)} is not supported (a standard normal, the unit-cube BoxUniform or PeriodicNormal is)"),
    };

    /// <summary>
    /// The periodic columns of a <see cref="PeriodicNormal{T}"/> base (normal elsewhere, uniform on the circle there);
    /// null for any other base. A periodic feature at index 64 or above is refused by name.
    /// </summary>
    public static PeriodicArgs? PeriodicBaseOf(Flow<float> flow)
    {
        if (flow.Base is not PeriodicNormal<float> b) return null;
        return new PeriodicArgs(b.Periodic.Count == flow.Features ? -1L : ColumnBits(b.Periodic, flow.Features, "the PeriodicNormal base"), b.Bound, (float)(-b.Periodic.Count * Math.Log(2 * b.Bound)), flow.Features);
    }

    /// <summary>
    /// Bit c set for each listed column c of <paramref name="total"/> (all 64 bits: every column, so with more columns
    /// than 64 that set is refused); a column at 64 or above throws a <see cref="NotSupportedException"/> naming <paramref name="what"/>.
    /// </summary>
    private static long ColumnBits(IEnumerable<int> columns, int total, string what)
    {
        long bits = 0;
        foreach (int c in columns)
        {
            if (c >= 64) throw new NotSupportedException($"DeviceFlow: {what} has a periodic feature at index {c}; periodic features at index 64 or above are not supported on the device");
            bits |= 1L << c;
        }
        if (bits == -1L && total > 64)
            throw new NotSupportedException($"DeviceFlow: {what} has periodic features 0 … 63 of {total}; more than 64 features with periodic ones are not supported on the device unless every feature is periodic");
        return bits;
    }

    private static void Flatten(Transform<float> t, List<Transform<float>> steps)
    {
        switch (t)
        {
            case CompositeTransform<float> c:
                foreach (var s in c.Steps) Flatten(s, steps);
                break;
            case CouplingTransform<float> or AutoregressiveTransform<float> or InverseAutoregressiveTransform<float> or ContinuousTransform<float>:
            case var own when DeviceParameterLayers.Handles(own):
                steps.Add(t);
                break;
            default:
                throw new NotSupportedException($"DeviceFlow: the transform {TypeName(t)} is not supported (affine and spline couplings, affine and spline MAF and IAF layers, ActNorm, LuLinear, Planar, Radial, BatchNormTransform, Permutation and continuous flows are)");
        }
    }

    private static Module<float> ConditionerOf(Transform<float> step) => step switch
    {
        CouplingTransform<float> c => c.Conditioner,
        AutoregressiveTransform<float> a => a.Conditioner,
        InverseAutoregressiveTransform<float> i => i.Conditioner,
        _ => throw new NotSupportedException($"DeviceFlow: the transform {TypeName(step)} is not supported"),
    };

    /// <summary>
    /// The linear layers of a step's conditioner, in order: an MLP's and a MADE's as they run; a ResidualNet's initial
    /// layer, per block linear0, linear1 (and its context gate), then the final layer; a residual MADE's input layer, its
    /// block layers, then its output layer (a ResidualNet's batch norms: <see cref="BatchNormsOf"/>, its dropout: <see cref="DropoutOf"/>).
    /// </summary>
    public static List<HostLinear> Linears(Transform<float> step)
    {
        if (DeviceParameterLayers.Handles(step)) return []; // no conditioner: its own parameters (DeviceParameterLayers.HostParameters)
        if (step is ContinuousTransform<float> cnf) return [.. DeviceVectorField.HostLinears(cnf.Field).Select(l => new HostLinear(l.Weight, l.Bias, null))]; // DeviceVectorField.Linears' order
        var network = ConditionerOf(step);
        switch (network)
        {
            case Mlp<float> mlp:
                return mlp.Layers.Select(l => new HostLinear(l.Weight, l.Bias, null)).ToList();
            case Made<float> { IsResidual: false } made:
                return made.Layers.Select(l => new HostLinear(l.Weight, l.Bias, l.Mask)).ToList();
            case Made<float> made:
                return [.. new[] { made.Layers[0] }.Concat(made.BlockLayers).Append(made.Layers[1]).Select(l => new HostLinear(l.Weight, l.Bias, l.Mask))];
            case ResidualNet<float> r:
            {
                var named = network.NamedModules().ToDictionary(p => p.Key, p => p.Value);
                HostLinear At(string name) => named.TryGetValue(name, out var m) && m is Linear<float> l ? new HostLinear(l.Weight, l.Bias, null)
                    : throw new NotSupportedException($"DeviceFlow: the residual conditioner of {TypeName(step)} has no linear layer {name}");
                var list = new List<HostLinear> { At("initial") };
                for (int b = 0; b < r.BlockCount; b++)
                {
                    list.Add(At($"blocks.{b}.linear0"));
                    list.Add(At($"blocks.{b}.linear1"));
                    if (r.ContextFeatures > 0) list.Add(At($"blocks.{b}.context"));
                }
                list.Add(At("final"));
                return list;
            }
            default:
                throw new NotSupportedException($"DeviceFlow: the conditioner {TypeName(network)} of {TypeName(step)} is not supported (MLPs, MADEs, residual MADEs and ResidualNets are)");
        }
    }

    /// <summary>
    /// The batch norms of a step's ResidualNet conditioner built with batch norm (ConditionerOptions.BatchNorm), per
    /// block its bn0 and bn1; empty for any other step.
    /// </summary>
    internal static List<(BatchNorm1d<float> Bn0, BatchNorm1d<float> Bn1)> BatchNormsOf(Transform<float> step)
    {
        if (DeviceParameterLayers.Handles(step) || step is ContinuousTransform<float> || ConditionerOf(step) is not ResidualNet<float> { UsesBatchNorm: true } r) return [];
        var named = r.NamedModules().ToDictionary(p => p.Key, p => p.Value);
        BatchNorm1d<float> At(string name) => named.TryGetValue(name, out var m) && m is BatchNorm1d<float> bn ? bn
            : throw new NotSupportedException($"DeviceFlow: the residual conditioner of {TypeName(step)} has no batch norm {name}");
        return [.. Enumerable.Range(0, r.BlockCount).Select(b => (At($"blocks.{b}.bn0"), At($"blocks.{b}.bn1")))];
    }

    /// <summary>
    /// The drop probability of a step's conditioner (0: no dropout, or dropout with p = 0): its Nn/Dropout modules
    /// (an MLP's and a MADE's one, a ResidualNet's one per block), which must share one probability.
    /// </summary>
    internal static double DropoutOf(Transform<float> step)
    {
        if (DeviceParameterLayers.Handles(step) || step is ContinuousTransform<float>) return 0;
        var ps = ConditionerOf(step).NamedModules().Select(m => m.Value).OfType<Dropout<float>>().Select(d => d.P).Distinct().ToList();
        if (ps.Count > 1) throw new NotSupportedException($"DeviceFlow: the conditioner of {TypeName(step)} has dropout of {ps.Count} different probabilities (one is supported)");
        return ps.Count == 0 ? 0 : ps[0];
    }

    /// <summary>A step's elementwise update.</summary>
    private static IElementwiseUpdate UpdateOf(Transform<float> step) => step switch
    {
        CouplingTransform<float> c => c.Update,
        InverseAutoregressiveTransform<float> i => i.Update,
        _ => ((AutoregressiveTransform<float>)step).Update,
    };

    internal static DeviceUpdate Update(IElementwiseUpdate update) => update switch
    {
        AffineUpdate a => new DeviceUpdate(AffineArgsOf(a.Scale)),
        SplineUpdate { Spline: RationalQuadraticSpline s } => new DeviceUpdate(SplineArgsOf(s)),
        SplineUpdate { Spline: CircularRationalQuadraticSpline c } => new DeviceUpdate(CircularArgsOf(c, null, -1L)),
        MaskedUpdate m => Masked(m),
        SplineUpdate { Spline: PiecewiseLinearSpline s } => new DeviceUpdate(new LinearSplineArgs(s.Bins, (float)s.MinBinMass, 0, 0)),
        SplineUpdate { Spline: PiecewiseQuadraticSpline s } => new DeviceUpdate(new QuadraticSplineArgs(s.Bins, (float)s.MinBinWidth, (float)s.MinDensity, 0, 0)),
        SplineUpdate s => throw new NotSupportedException($"DeviceFlow: the spline {TypeName(s.Spline)} is not supported (the rational-quadratic, circular rational-quadratic, piecewise-linear and piecewise-quadratic splines are)"),
        SigmoidalUpdate s => new DeviceUpdate(SigmoidalArgsOf(s.Map)),
        UmnnUpdate => throw new NotSupportedException("DeviceFlow: the elementwise update UmnnUpdate is only supported in the coupling and MAF layers of a flow compiled with its integrand networks"),
        _ => throw new NotSupportedException($"DeviceFlow: the elementwise update {TypeName(update)} is not supported (affine, spline, sigmoidal and UMNN updates are)"),
    };

    /// <summary>
    /// A masked update as the periodic builders make it (FlowBuilders.PeriodicUpdate): circular splines on the selected
    /// features, the identity-tailed rational-quadratic spline with the same bins and minima on the others; any other
    /// pair is refused by name.
    /// </summary>
    private static DeviceUpdate Masked(MaskedUpdate m)
    {
        if (m is { Selected: SplineUpdate { Spline: CircularRationalQuadraticSpline c }, Others: SplineUpdate { Spline: RationalQuadraticSpline r } }
            && r.Domain.IdentityTails && r.Bins == c.Bins && r.MinBinWidth == c.MinBinWidth && r.MinBinHeight == c.MinBinHeight && r.MinDerivative == c.MinDerivative)
            return new DeviceUpdate(CircularArgsOf(c, r, m.Mask.All(v => v) ? -1L : ColumnBits(Enumerable.Range(0, m.Mask.Count).Where(k => m.Mask[k]), m.Mask.Count, "a masked circular-spline update")));
        throw new NotSupportedException($"DeviceFlow: the masked update of {Describe(m.Selected)} and {Describe(m.Others)} is not supported (circular splines on some features and the identity-tailed rational-quadratic spline with the same bins and minima on the others is)");
    }

    /// <summary>
    /// The kernel arguments of circular splines on the columns set in <paramref name="columns"/> and the ordinary
    /// spline <paramref name="ordinary"/> (identity tails) on the others.
    /// </summary>
    public static SplineArgs CircularArgsOf(CircularRationalQuadraticSpline c, RationalQuadraticSpline? ordinary, long columns)
    {
        var d = ordinary?.Domain ?? new SplineDomain(-c.Bound, c.Bound, -c.Bound, c.Bound, true);
        if (d.Left != d.Bottom || d.Right != d.Top)
            throw new NotSupportedException($"DeviceFlow: a rational-quadratic spline mapping [{d.Left}, {d.Right}] onto another interval [{d.Bottom}, {d.Top}] is not supported (an interval onto itself is)");
        return new SplineArgs(c.Bins, (float)d.Left, (float)d.Right, (float)c.MinBinWidth, (float)c.MinBinHeight, (float)c.MinDerivative, 0, 0, 2, c.Bound, columns);
    }

    /// <summary>
    /// The kernel arguments of a sigmoidal map (the forward direction): its components, and the inverse's tolerance as
    /// the CPU's float solve raises it (MonotonicSolver.EffectiveTolerance: at least 8 float epsilons).
    /// </summary>
    public static SigmoidalArgs SigmoidalArgsOf(SigmoidalMap map)
        => new(map.Components, Math.Max(map.Tolerance, 8 * (double)(MathF.BitIncrement(1f) - 1f)), 0, 0);

    /// <summary>The kernel arguments of an affine scale (the forward direction; <see cref="DeviceUpdate"/> sets the direction per call).</summary>
    public static AffineArgs AffineArgsOf(AffineScale scale) => new(scale.Kind switch
    {
        AffineScaleKind.SoftClampedExp => 0,
        AffineScaleKind.RationalClampedExp => 1,
        AffineScaleKind.Sigmoid => 2,
        AffineScaleKind.Softplus => 3,
        _ => throw new NotSupportedException($"DeviceFlow: the affine scale {scale.Kind} is not supported"),
    }, (float)scale.Bound, 0, 0);

    /// <summary>
    /// The kernel arguments of a rational-quadratic spline (the forward direction): identity tails, or learnable
    /// boundary derivatives with linear tails on an interval mapped onto itself (SplineDomain.UnitInterval).
    /// </summary>
    public static SplineArgs SplineArgsOf(RationalQuadraticSpline s)
    {
        var d = s.Domain;
        if (d.Left != d.Bottom || d.Right != d.Top)
            throw new NotSupportedException($"DeviceFlow: a rational-quadratic spline mapping [{d.Left}, {d.Right}] onto another interval [{d.Bottom}, {d.Top}] is not supported (an interval onto itself is)");
        return new SplineArgs(s.Bins, (float)d.Left, (float)d.Right, (float)s.MinBinWidth, (float)s.MinBinHeight, (float)s.MinDerivative, 0, 0, d.IdentityTails ? 0 : 1);
    }

    private static string Describe(IElementwiseUpdate u) => u is SplineUpdate s ? TypeName(s.Spline) : TypeName(u);

    private static string TypeName(object o)
    {
        var t = o.GetType();
        return t.IsGenericType ? t.Name[..t.Name.IndexOf('`')] : t.Name;
    }
}
