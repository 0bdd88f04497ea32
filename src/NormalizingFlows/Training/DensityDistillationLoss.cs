using System.Numerics;
using NormalizingFlows.Autograd;
using NormalizingFlows.Flows;
using NormalizingFlows.Tensors;
using NormalizingFlows.Transforms;
using NormalizingFlows.Transforms.Autoregressive;

namespace NormalizingFlows.Training;

/// <summary>
/// Probability density distillation of a MAF teacher into an IAF student (van den Oord et al. 2018; CaloFlow v2):
/// MSE(z, z′) + MSE(x, x′) + MSE(zᵢ, zᵢ′) + MSE(xᵢ, xᵢ′) + MSE(θ_z, θ′_z) + MSE(θ_x, θ′_x) on a batch of data (the
/// x-pass) and as many base draws from the batch's random stream (the z-pass); see <see cref="DistillationTrainer{T}"/>.
/// Only the student's parameters should be trainable while it is minimised (the trainer freezes the teacher).
/// </summary>
public sealed class DensityDistillationLoss<T> : TrainingLoss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly AutoregressiveTransform<T>[] _teacherLayers;
    private readonly InverseAutoregressiveTransform<T>[] _studentLayers;

    /// <summary>
    /// Creates the loss of <paramref name="student"/> (one <see cref="InverseAutoregressiveTransform{T}"/> per teacher
    /// layer) against <paramref name="teacher"/> (MAF layers), with the z-pass, the x-pass or both.
    /// </summary>
    public DensityDistillationLoss(Flow<T> teacher, Flow<T> student, bool zPass = true, bool xPass = true)
    {
        Teacher = teacher ?? throw new ArgumentNullException(nameof(teacher));
        Student = student ?? throw new ArgumentNullException(nameof(student));
        if (!zPass && !xPass) throw new ArgumentException("distillation needs the z-pass, the x-pass or both");
        ZPass = zPass; XPass = xPass;
        _teacherLayers = TeacherLayers(teacher);
        _studentLayers = Steps(student.Transform).Select((s, i) => s as InverseAutoregressiveTransform<T>
            ?? throw new ArgumentException($"student step {i} is a {TypeNames.Of(s)}, not an InverseAutoregressiveTransform (build the student with CreateStudent)", nameof(student))).ToArray();
        if (_studentLayers.Length != _teacherLayers.Length)
            throw new ArgumentException($"the student has {_studentLayers.Length} layers, the teacher {_teacherLayers.Length}", nameof(student));
        for (int l = 0; l < _teacherLayers.Length; l++)
            if (_studentLayers[l].ParametersPerFeature != _teacherLayers[l].ParametersPerFeature || _studentLayers[l].Features != _teacherLayers[l].Features
                || _studentLayers[l].ContextFeatures != _teacherLayers[l].ContextFeatures)
                throw new ArgumentException($"student layer {l} does not have the shape of teacher layer {l}", nameof(student));
    }

    /// <summary>The teacher (MAF).</summary>
    public Flow<T> Teacher { get; }

    /// <summary>The student (IAF).</summary>
    public Flow<T> Student { get; }

    /// <summary>Whether the z-pass (base draws → student → teacher density pass) runs.</summary>
    public bool ZPass { get; }

    /// <summary>Whether the x-pass (data → teacher density pass → student) runs.</summary>
    public bool XPass { get; }

    /// <summary>The six terms of the last <see cref="Compute"/>.</summary>
    public DistillationLoss? Last { get; private set; }

    /// <inheritdoc/>
    public override void Prepare(TrainingData<T> train, TrainingData<T>? validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        MaximumLikelihoodLoss<T>.CheckFeatures(Teacher, train, "distillation data");
    }

    /// <inheritdoc/>
    public override Var<T> Compute(TrainingBatch<T> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var x = batch.X ?? throw new ArgumentException("distillation needs data batches", nameof(batch));
        var (total, terms) = Terms(x, batch.Context, batch.Rng);
        Last = terms;
        return total;
    }

    /// <summary>
    /// The sum of the terms (recorded when gradients are enabled) and the six terms on data <paramref name="x"/> with
    /// contexts <paramref name="context"/>; the z-pass draws as many base points from <paramref name="rng"/>.
    /// </summary>
    internal (Var<T> Total, DistillationLoss Terms) Terms(Tensor<T> x, Tensor<T>? context, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(rng);
        int n = x.Dim(0), layers = _teacherLayers.Length;
        var ctx = context is null ? null : new Var<T>(context);
        var teacherCtx = Teacher.ContextFeatures > 0 ? ctx : null;
        Var<T>? total = null;
        double z = 0, xs = 0, iz = 0, ix = 0, pz = 0, px = 0;
        void Add(Var<T> term, ref double acc)
        {
            acc += double.CreateTruncating(term.Value[0]);
            total = total is null ? term : Ops.Add(total, term);
        }

        if (ZPass)
        {
            // student: base → data, one pass per layer
            var zBase = new Var<T>(Teacher.Base.Sample(n, rng, teacherCtx).Value);
            var studentU = new Var<T>[layers + 1];
            var studentTheta = new Var<T>[layers];
            studentU[layers] = zBase;
            for (int l = layers - 1; l >= 0; l--)
                (studentU[l], _, studentTheta[l]) = _studentLayers[l].InverseWithParameters(studentU[l + 1], teacherCtx);
            // teacher: density pass on the student's sample (recorded: gradients flow back into the student)
            var u = studentU[0];
            for (int l = 0; l < layers; l++)
            {
                var (next, _, theta) = _teacherLayers[l].ForwardWithParameters(u, teacherCtx);
                Add(Ops.MseLoss(theta, studentTheta[l]), ref pz);
                if (l < layers - 1) Add(Ops.MseLoss(next, studentU[l + 1]), ref iz);
                u = next;
            }
            Add(Ops.MseLoss(u, zBase), ref z);
        }
        if (XPass)
        {
            var teacherU = new Var<T>[layers + 1];
            var teacherTheta = new Var<T>[layers];
            teacherU[0] = new Var<T>(x);
            using (GradMode.Disable())
                for (int l = 0; l < layers; l++)
                    (teacherU[l + 1], _, teacherTheta[l]) = _teacherLayers[l].ForwardWithParameters(teacherU[l], teacherCtx);
            var v = teacherU[layers];
            for (int l = layers - 1; l >= 0; l--)
            {
                var (prev, _, theta) = _studentLayers[l].InverseWithParameters(v, teacherCtx);
                Add(Ops.MseLoss(theta, teacherTheta[l]), ref px);
                if (l > 0) Add(Ops.MseLoss(prev, teacherU[l]), ref ix);
                else Add(Ops.MseLoss(prev, teacherU[0]), ref xs);
                v = prev;
            }
        }
        return (total!, new DistillationLoss(z, xs, iz, ix, pz, px));
    }

    private static IReadOnlyList<Transform<T>> Steps(Transform<T> transform) =>
        transform is CompositeTransform<T> c ? c.Steps : [transform];

    /// <summary>The MAF layers of <paramref name="teacher"/> (throws naming the first step that is not one).</summary>
    internal static AutoregressiveTransform<T>[] TeacherLayers(Flow<T> teacher) =>
        Steps(teacher.Transform).Select((s, i) => s is MaskedAffineAutoregressive<T> or MaskedSplineAutoregressive<T>
            ? (AutoregressiveTransform<T>)s
            : throw new ArgumentException($"teacher step {i} is a {TypeNames.Of(s)}; distillation needs MAF layers (affine or spline)", nameof(teacher))).ToArray();
}
