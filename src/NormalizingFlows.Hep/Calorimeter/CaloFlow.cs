using System.Diagnostics;
using System.Text.Json;
using NormalizingFlows.Autograd;
using NormalizingFlows.Data;
using NormalizingFlows.Data.Preprocessing;
using NormalizingFlows.Flows;
using NormalizingFlows.Nn;
using NormalizingFlows.IO;
using NormalizingFlows.Models;
using NormalizingFlows.Tensors;
using NormalizingFlows.Training;

namespace NormalizingFlows.Hep.Calorimeter;

/// <summary>
/// CaloFlow (Krause &amp; Shih 2021): p(shower | E_inc) = p₁(E₀, E₁, E₂ | E_inc) · p₂(Î | E₀, E₁, E₂, E_inc). Flow I is a
/// small MAF on the three layer-energy variables; flow II a MAF teacher on the 504 normalised voxels, trained by
/// maximum likelihood; the student an IAF of the same shape distilled from the frozen teacher
/// (<see cref="DistillationTrainer{T}"/>) so that sampling takes one pass. Float32 throughout.
/// <para>
/// Each flow is a <see cref="FlowModel{T}"/> whose preprocessing standardises its features (a
/// <see cref="PreprocessingPipeline{T}"/> of <see cref="PreprocessingKind.Standardize"/> columns fitted on the training
/// showers); the flows train and sample in those standardised units (<see cref="Flow1"/>, <see cref="Teacher"/>,
/// <see cref="Student"/> are the models' inner flows). The physics maps of <see cref="CaloFlowPreprocessing"/> stay
/// outside the models: flow I's map (E₀, E₁, E₂ | E_inc) → (u₀, u₁, u₂) depends on the context, so it is no
/// column-wise transform of the features, and flow II's per-layer normalisation is not a bijection (it drops the layer
/// sums, which flow I models); both are deterministic functions of the shower and E_inc. The contexts keep their fixed
/// physics scaling (log₁₀ E) and are not standardised.
/// </para>
/// </summary>
public sealed class CaloFlow : Module<float>
{
    /// <summary>The role of a CaloFlow model bundle (<see cref="ModelFile.SaveBundle{T}"/>), whose parts are "flow1", "teacher" and (once distilled) "student".</summary>
    public const string Role = "caloflow";

    /// <summary>The "kind" metadata of the CaloFlow files of older versions (their own format, refused on load).</summary>
    public const string LegacyFileKind = "caloflow";

    private const string Flow1Part = "flow1", TeacherPart = "teacher", StudentPart = "student";

    /// <summary>Column names of flow I's features: the logits of u₀, u₁, u₂.</summary>
    public static IReadOnlyList<string> Flow1Columns { get; } = ["logit_u0", "logit_u1", "logit_u2"];

    /// <summary>Column names of flow II's features: the logits of the normalised voxels.</summary>
    public static IReadOnlyList<string> Flow2Columns { get; } = Enumerable.Range(0, CaloGeometry.Voxels).Select(i => $"voxel{i}").ToArray();

    private CaloFlow(CaloFlowConfig config, FlowModel<float> flow1, FlowModel<float> teacher, FlowModel<float>? student)
    {
        config.Validate();
        Config = config;
        Flow1Model = RegisterPart(Flow1Part, flow1);
        TeacherModel = RegisterPart(TeacherPart, teacher);
        if (student is not null) StudentModel = RegisterPart(StudentPart, student);
    }

    private FlowModel<float> RegisterPart(string name, FlowModel<float> model)
    {
        RegisterModule(name, model.Flow);
        return model;
    }

    // the student behind its own copy of the teacher's standardisation
    private void SetStudent(Flow<float> student)
    {
        var standardisation = PreprocessingPipeline.Create<float>(TeacherModel.PreprocessingSpec!);
        standardisation.LoadStateDict(TeacherModel.Preprocessing!.StateDict());
        StudentModel = RegisterPart(StudentPart, FlowModel<float>.FromFlow(student, standardisation, Flow2Columns, TeacherModel.Seed));
    }

    /// <summary>The architecture and preprocessing.</summary>
    public CaloFlowConfig Config { get; private set; }

    /// <summary>Flow I as a model: standardisation of the logits of (u₀, u₁, u₂), then the MAF; context log₁₀ E_inc − 1.</summary>
    public FlowModel<float> Flow1Model { get; }

    /// <summary>Flow II teacher as a model: standardisation of the voxel logits, then the MAF; context of <see cref="CaloFlowPreprocessing.Flow2Context"/>.</summary>
    public FlowModel<float> TeacherModel { get; }

    /// <summary>Flow II student as a model (the teacher's standardisation, then the IAF), after <see cref="Distill"/> (or loaded); null before.</summary>
    public FlowModel<float>? StudentModel { get; private set; }

    /// <summary>Flow I in standardised units: p₁(layer-energy variables | E_inc).</summary>
    public Flow<float> Flow1 => Flow1Model.Inner;

    /// <summary>Flow II teacher in standardised units: MAF p₂(Î | E_i, E_inc).</summary>
    public Flow<float> Teacher => TeacherModel.Inner;

    /// <summary>Flow II student (IAF) in standardised units; null before <see cref="Distill"/>.</summary>
    public Flow<float>? Student => StudentModel?.Inner;

    /// <summary>
    /// A new model for <paramref name="train"/>: the energy scale s is set above every E_tot/E_inc of the data and the
    /// standardisation of both flows' features is fitted to them (<see cref="PreprocessingPipeline.Fit{T}"/>).
    /// </summary>
    public static CaloFlow Create(CaloFlowConfig config, CaloShowers train, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(train);
        if (train.Count < 2) throw new ArgumentException($"CaloFlow needs at least 2 training showers, got {train.Count}");
        double maxRatio = 0;
        for (int i = 0; i < train.Count; i++) maxRatio = Math.Max(maxRatio, train.TotalEnergy(i) / train.IncidentEnergies[i]);
        config = config with { Preprocessing = config.Preprocessing with { EnergyScale = Math.Max(1.0, 1.05 * maxRatio) } };
        config.Validate();
        var (f1, f2) = Features(config.Preprocessing, train, seed);
        var (flow1, teacher) = BuildFlows(config, new Rng(seed));
        return new CaloFlow(config, FlowModel<float>.FromFlow(flow1, Standardisation(Flow1Columns, f1.X, train.Count), Flow1Columns, seed),
            FlowModel<float>.FromFlow(teacher, Standardisation(Flow2Columns, f2.X, train.Count), Flow2Columns, seed), null);
    }

    // flow I and the teacher of config, freshly initialised from rng (the builders' MAF types, which distillation and the full-pass sampler need)
    private static (Flow<float> Flow1, Flow<float> Teacher) BuildFlows(CaloFlowConfig config, Rng rng)
    {
        var flow1 = config.Flow1Bins > 0
            ? FlowBuilders.MafRqs<float>(CaloFlowPreprocessing.Flow1Features, config.Flow1Layers, config.Flow1Hidden, config.Flow1Bins, config.SplineBound, contextFeatures: 1, rng: rng)
            : FlowBuilders.Maf<float>(CaloFlowPreprocessing.Flow1Features, config.Flow1Layers, config.Flow1Hidden, contextFeatures: 1, rng: rng);
        var teacher = config.Flow2Bins > 0
            ? FlowBuilders.MafRqs<float>(CaloGeometry.Voxels, config.Flow2Layers, config.Flow2Hidden, config.Flow2Bins, config.SplineBound, CaloFlowPreprocessing.Flow2ContextFeatures, rng)
            : FlowBuilders.Maf<float>(CaloGeometry.Voxels, config.Flow2Layers, config.Flow2Hidden, CaloFlowPreprocessing.Flow2ContextFeatures, rng);
        return (flow1, teacher);
    }

    private static PreprocessingSpec StandardisationSpec(IReadOnlyList<string> columns) => PreprocessingSpec.Uniform(columns, PreprocessingKind.Standardize);

    private static PreprocessingPipeline<float> Standardisation(IReadOnlyList<string> columns, double[] features, int rows)
        => PreprocessingPipeline.Fit<float>(new Table([.. columns], features, rows), StandardisationSpec(columns));

    /// <summary>Unstandardised features and contexts of both flows for <paramref name="showers"/> (noise drawn from <paramref name="seed"/>).</summary>
    private static ((double[] X, double[] Context) Flow1, (double[] X, double[] Context) Flow2) Features(CaloFlowPreprocessing p, CaloShowers showers, long seed)
    {
        var noised = p.AddNoise(showers, new Rng(unchecked(seed ^ 0x0C41_0F10)));
        var layerE = CaloFlowPreprocessing.LayerEnergies(noised);
        var f1 = p.Flow1Forward(layerE, showers.IncidentEnergies);
        var c1 = showers.IncidentEnergies.Select(CaloFlowPreprocessing.Flow1Context).ToArray();
        var f2 = p.Flow2Forward(noised);
        var c2 = CaloFlowPreprocessing.Flow2Context(showers.IncidentEnergies, layerE);
        return ((f1, c1), (f2, c2));
    }

    /// <summary>The standardised training sets of flow I and flow II for <paramref name="showers"/> (what <see cref="Flow1"/>, <see cref="Teacher"/> and <see cref="Student"/> see).</summary>
    public (TrainingData<float> Flow1, TrainingData<float> Flow2) TrainingData(CaloShowers showers, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(showers);
        var (f1, f2) = Features(Config.Preprocessing, showers, seed);
        int n = showers.Count;
        return (new TrainingData<float>(Standardised(Flow1Model, f1.X, n), Tensor<float>.FromDoubles(f1.Context, n, 1)),
                new TrainingData<float>(Standardised(TeacherModel, f2.X, n), Tensor<float>.FromDoubles(f2.Context, n, CaloFlowPreprocessing.Flow2ContextFeatures)));
    }

    // features [n, d] in the model's standardised units
    private static Tensor<float> Standardised(FlowModel<float> model, double[] features, int rows)
    {
        using var _ = GradMode.Disable();
        return model.Preprocessing!.Forward(new Var<float>(Tensor<float>.FromDoubles(features, rows, model.Features))).Y.Value.Untrack();
    }

    // standardised samples [n, d] back in feature units
    private static double[] Unstandardised(FlowModel<float> model, Tensor<float> samples)
        => model.Preprocessing!.Inverse(new Var<float>(samples)).X.Value.ToDoubleArray();

    /// <summary>
    /// Trains flow I by maximum likelihood on <paramref name="data"/> (from <see cref="TrainingData"/>); stops at
    /// <paramref name="cancellation"/> after writing the checkpoint of <paramref name="options"/>, and continues from
    /// <paramref name="resumeFrom"/> when given.
    /// </summary>
    public TrainingHistory TrainFlow1(TrainingData<float> data, TrainingOptions options, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellation = default, string? resumeFrom = null)
    {
        var trainer = new MaximumLikelihoodTrainer<float>(Flow1, options) { Progress = progress };
        var h = trainer.Fit(data, cancellation: cancellation, resumeFrom: resumeFrom);
        Flow1.Eval();
        return h;
    }

    /// <summary>
    /// Trains the flow-II teacher by maximum likelihood on <paramref name="data"/> (from <see cref="TrainingData"/>);
    /// cancellation and resumption as in <see cref="TrainFlow1"/>.
    /// </summary>
    public TrainingHistory TrainTeacher(TrainingData<float> data, TrainingOptions options, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellation = default, string? resumeFrom = null)
    {
        var trainer = new MaximumLikelihoodTrainer<float>(Teacher, options) { Progress = progress };
        var h = trainer.Fit(data, cancellation: cancellation, resumeFrom: resumeFrom);
        Teacher.Eval();
        return h;
    }

    /// <summary>
    /// Creates the student (starting from the teacher's weights unless <paramref name="copyTeacherWeights"/> is false) if
    /// there is none yet, and distils the frozen teacher into it on the flow-II training data (z-pass and x-pass).
    /// Returns the final loss terms.
    /// </summary>
    public DistillationLoss Distill(TrainingData<float> flow2Data, DistillationOptions options, IProgress<DistillationProgress>? progress = null, long seed = 0,
        bool copyTeacherWeights = true)
    {
        var trainer = Distiller(options, progress, seed, copyTeacherWeights);
        var loss = trainer.Fit(flow2Data);
        Student!.Eval();
        return loss;
    }

    /// <summary>
    /// Creates the student as <see cref="Distill"/> does and returns its trainer without running it, for a caller that
    /// cancels, checkpoints or resumes the distillation (<see cref="DistillationTrainer{T}.Fit"/>).
    /// </summary>
    public DistillationTrainer<float> Distiller(DistillationOptions options, IProgress<DistillationProgress>? progress = null, long seed = 0,
        bool copyTeacherWeights = true)
    {
        if (StudentModel is null) SetStudent(DistillationTrainer<float>.CreateStudent(Teacher, new Rng(seed), copyTeacherWeights));
        return new DistillationTrainer<float>(Teacher, Student!, options) { Progress = progress };
    }

    /// <summary>
    /// The flows compiled onto <paramref name="device"/> for <see cref="Generate"/>, <see cref="TimePerShower"/> and
    /// <see cref="TimeFlow2PerShower"/> (each flow at its first use, with its weights as they are then). Throws a
    /// <see cref="NotSupportedException"/> naming the part the device cannot run when a flow is compiled.
    /// </summary>
    public CaloDeviceFlows OnDevice(IFlowAccelerator device) => new(this, device);

    /// <summary>
    /// Generates one shower per incident energy (GeV): layer energies from flow I, normalised voxels from the teacher or
    /// the student, post-processed (threshold applied), in batches of <paramref name="batchSize"/>. With
    /// <paramref name="device"/> (<see cref="OnDevice"/>) flow I and flow II map the same base draws (from the same
    /// <see cref="Rng"/> of <paramref name="seed"/>) on the device, so the showers are the CPU's within float
    /// tolerance; there the student samples in one MADE pass per layer, the teacher with the device's incremental
    /// MADE (<see cref="CaloSampler.TeacherFullPasses"/>: D full passes per layer).
    /// </summary>
    public CaloShowers Generate(double[] incidentEnergies, CaloSampler sampler, long seed, int batchSize = 10_000, CaloDeviceFlows? device = null)
    {
        ArgumentNullException.ThrowIfNull(incidentEnergies);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be ≥ 1");
        CheckDevice(device);
        var flow2 = Flow2(sampler);
        foreach (double e in incidentEnergies)
            if (!(e > 0) || !double.IsFinite(e)) throw new ArgumentException($"incident energies must be positive and finite, got {e}");
        Flow1.Eval(); flow2.Eval();
        int n = incidentEnergies.Length;
        var voxels = new double[n * CaloGeometry.Voxels];
        var rng = new Rng(seed);
        var p = Config.Preprocessing;
        using var _ = GradMode.Disable();
        for (int start = 0; start < n; start += batchSize)
        {
            int b = Math.Min(batchSize, n - start);
            var energies = incidentEnergies.AsSpan(start, b);
            using var scope = TensorScope.Begin();
            var c1 = Tensor<float>.FromDoubles(energies.ToArray().Select(CaloFlowPreprocessing.Flow1Context).ToArray(), b, 1);
            var f1 = Unstandardised(Flow1Model, SampleFlow(Flow1, b, rng, c1, device, fullPasses: false));
            var layerE = p.Flow1Inverse(f1, energies);
            var c2 = Tensor<float>.FromDoubles(CaloFlowPreprocessing.Flow2Context(energies, layerE), b, CaloFlowPreprocessing.Flow2ContextFeatures);
            var f2 = Unstandardised(TeacherModel, sampler == CaloSampler.TeacherFullPasses && device is null
                ? SampleTeacherFullPasses(Teacher.Base.Sample(b, rng, null).Value, new Var<float>(c2))
                : SampleFlow(flow2, b, rng, c2, device, sampler == CaloSampler.TeacherFullPasses));
            for (int i = 0; i < f2.Length; i++) if (!double.IsFinite(f2[i])) f2[i] = -50; // a non-finite sample reads as an empty voxel
            p.Flow2Inverse(f2, layerE).CopyTo(voxels.AsSpan(start * CaloGeometry.Voxels));
        }
        return new CaloShowers(voxels, (double[])incidentEnergies.Clone());
    }

    /// <summary>
    /// <paramref name="b"/> samples of <paramref name="flow"/> given the context <paramref name="c"/>: on the CPU
    /// (<see cref="Flow{T}.Sample"/>) or, with <paramref name="device"/>, the same base draws of <paramref name="rng"/>
    /// mapped on the device (MAF layers with D full MADE passes when <paramref name="fullPasses"/>, else incrementally).
    /// </summary>
    private static Tensor<float> SampleFlow(Flow<float> flow, int b, Rng rng, Tensor<float> c, CaloDeviceFlows? device, bool fullPasses)
        => device is null ? flow.Sample(b, rng, new Var<float>(c)).Value : device.For(flow).Inverse(flow.Base.Sample(b, rng, null).Value, c, fullPasses);

    private void CheckDevice(CaloDeviceFlows? device)
    {
        if (device is null) return;
        ObjectDisposedException.ThrowIf(device.IsDisposed, device);
        if (!ReferenceEquals(device.Model, this)) throw new ArgumentException("these device flows were compiled from another CaloFlow model", nameof(device));
    }

    /// <summary>The teacher's sampling direction with D full MADE passes per layer (the naive MAF inverse), without a graph.</summary>
    private Tensor<float> SampleTeacherFullPasses(Tensor<float> z, Var<float> context)
    {
        var steps = Teacher.Transform is Transforms.CompositeTransform<float> c ? c.Steps : [Teacher.Transform];
        var y = new Var<float>(z);
        for (int l = steps.Count - 1; l >= 0; l--)
            (y, _) = ((Transforms.Autoregressive.AutoregressiveTransform<float>)steps[l]).InverseFullPasses(y, context);
        return y.Value;
    }

    /// <summary>
    /// Wall-clock and CPU (all threads) seconds per shower of <see cref="Generate"/> for <paramref name="count"/> showers
    /// in one batch, after a small warm-up; the fastest of <paramref name="repeats"/> runs. On a shared machine the CPU
    /// time is the steadier figure. With <paramref name="device"/> the flows run there (compiled by the warm-up at the
    /// latest, so the compilation is not timed).
    /// </summary>
    public GenerationTiming TimePerShower(CaloSampler sampler, int count, long seed = 1, int repeats = 1, CaloDeviceFlows? device = null)
    {
        var e = TimingEnergies(count);
        Generate(e[..Math.Min(64, count)], sampler, seed, count, device);
        return GenerationTiming.Measure(count, () => Generate(e, sampler, seed, count, device), repeats);
    }

    /// <summary>The incident energies of the timing runs: <paramref name="count"/> evenly spaced in [1, 100] GeV.</summary>
    private static double[] TimingEnergies(int count) => Enumerable.Range(0, count).Select(i => 1 + 99.0 * i / Math.Max(1, count - 1)).ToArray();

    /// <summary>The flow II that samples for <paramref name="sampler"/> (the teacher for both teacher samplers).</summary>
    private Flow<float> Flow2(CaloSampler sampler) => sampler != CaloSampler.Student ? Teacher
        : Student ?? throw new InvalidOperationException("the model has no student yet: run `nflow calo distill` first");

    /// <summary>
    /// Seconds per shower of flow II alone (base draw and the teacher's or student's sampling pass, without flow I and
    /// post-processing) for <paramref name="count"/> showers in one batch, contexts fixed beforehand; the fastest of
    /// <paramref name="repeats"/> runs. With <paramref name="device"/>: the host's base draw, its upload, the device's
    /// sampling pass and the download of the samples.
    /// </summary>
    public GenerationTiming TimeFlow2PerShower(CaloSampler sampler, int count, long seed = 1, int repeats = 1, CaloDeviceFlows? device = null)
    {
        CheckDevice(device);
        var flow2 = Flow2(sampler);
        flow2.Eval();
        var rng = new Rng(seed);
        var e = TimingEnergies(count);
        var layerE = e.SelectMany(v => new[] { 0.03 * v, 0.9 * v, 0.03 * v }).ToArray();
        using var _ = GradMode.Disable();
        using var scope = TensorScope.Begin();
        var c = new Var<float>(Tensor<float>.FromDoubles(CaloFlowPreprocessing.Flow2Context(e, layerE), count, CaloFlowPreprocessing.Flow2ContextFeatures));
        void Run(int n, Var<float> ctx)
        {
            using var inner = TensorScope.Begin();
            if (device is not null) SampleFlow(flow2, n, rng, ctx.Value, device, sampler == CaloSampler.TeacherFullPasses);
            else if (sampler == CaloSampler.TeacherFullPasses) SampleTeacherFullPasses(Teacher.Base.Sample(n, rng, null).Value, ctx);
            else flow2.Sample(n, rng, ctx);
        }
        int warm = Math.Min(64, count);
        Run(warm, new Var<float>(c.Value.CopyRows(0, warm)));
        return GenerationTiming.Measure(count, () => Run(count, c), repeats);
    }

    /// <summary>
    /// Writes the model atomically to <paramref name="path"/> as one model bundle (<see cref="ModelFile.SaveBundle{T}"/>,
    /// role <see cref="Role"/>): the parts "flow1", "teacher" and (once distilled) "student", each a flow model with its
    /// standardisation, and the config in the bundle's metadata.
    /// </summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var meta = new Dictionary<string, string> { ["config"] = JsonSerializer.Serialize(Config) };
        if (extraMetadata is not null) foreach (var (k, v) in extraMetadata) meta.TryAdd(k, v);
        var parts = new List<KeyValuePair<string, FlowModel<float>>> { new(Flow1Part, Flow1Model), new(TeacherPart, TeacherModel) };
        if (StudentModel is not null) parts.Add(new(StudentPart, StudentModel));
        ModelFile.SaveBundle(path, Role, parts, meta);
    }

    /// <summary>
    /// Reads a model written by <see cref="Save"/>; a file that is not one (<see cref="ModelFileException.FileKind"/>
    /// names what it is), a CaloFlow file of an older version, a corrupt file (checksum) or parts that do not fit the
    /// config are a <see cref="ModelFileException"/>.
    /// </summary>
    public static CaloFlow Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ModelBundle<float> bundle;
        try { bundle = ModelFile.LoadBundle<float>(path, Role); }
        catch (ModelFileException ex) when (ex.FileKind == LegacyFileKind)
        {
            throw new ModelFileException(path, $"this CaloFlow model was written by an older version of NormalizingFlows (a '{LegacyFileKind}' file, before CaloFlow models became model bundles); retrain with `nflow calo train`", ex)
            { FileKind = LegacyFileKind };
        }
        catch (ModelFileException ex) when (ex.FileKind is not null)
        {
            throw new ModelFileException(path, ex.FileKind == ModelFile.BundleKind ? $"not a CaloFlow model: {ex.Problem}; train a CaloFlow model with `nflow calo train`"
                : $"not a CaloFlow model: this is a '{ex.FileKind}' file; train a CaloFlow model with `nflow calo train`", ex) { FileKind = ex.FileKind };
        }
        CaloFlowConfig config;
        try
        {
            config = JsonSerializer.Deserialize<CaloFlowConfig>(bundle.Metadata.TryGetValue("config", out var c) ? c : throw new JsonException("the metadata has no 'config'"))
                ?? throw new JsonException("the config is null");
            config.Validate();
        }
        catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException or NotSupportedException)
        { throw new ModelFileException(path, $"invalid CaloFlow config: {ex.Message}", ex); }
        // the part's weights moved into the flow the config builds, behind the part's standardisation
        FlowModel<float> Part(string name, Flow<float> built, IReadOnlyList<string> columns, int context)
        {
            if (!bundle.Parts.TryGetValue(name, out var model)) throw new ModelFileException(path, $"the CaloFlow bundle has no '{name}' part");
            if (!model.Columns.SequenceEqual(columns) || model.ContextFeatures != context || model.PreprocessingSpec is not { } spec
                || spec.Columns.Any(col => col.Kind != PreprocessingKind.Standardize))
                throw new ModelFileException(path, $"part '{name}' is not a CaloFlow flow: it must take the {columns.Count} standardised columns {columns[0]}, … and {context} context features");
            try { built.LoadStateDict(model.Inner.StateDict()); }
            catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException or InvalidCastException)
            { throw new ModelFileException(path, $"part '{name}' does not fit the CaloFlow config: {ex.Message}", ex); }
            var part = FlowModel<float>.FromFlow(built, model.Preprocessing, model.Columns, model.Seed);
            part.History = model.History;
            foreach (var (k, v) in model.Metadata) part.Metadata[k] = v;
            return part;
        }
        var (flow1, teacher) = BuildFlows(config, new Rng(0));
        int c2 = CaloFlowPreprocessing.Flow2ContextFeatures;
        var model = new CaloFlow(config, Part(Flow1Part, flow1, Flow1Columns, 1), Part(TeacherPart, teacher, Flow2Columns, c2),
            bundle.Parts.ContainsKey(StudentPart) ? Part(StudentPart, DistillationTrainer<float>.CreateStudent(teacher, new Rng(0), copyWeights: false), Flow2Columns, c2) : null);
        model.Eval();
        return model;
    }

    /// <summary>Parameter counts (flow I, teacher, student).</summary>
    public (long Flow1, long Teacher, long Student) ParameterCounts() => (Flow1.ParameterCount(), Teacher.ParameterCount(), Student?.ParameterCount() ?? 0);
}
