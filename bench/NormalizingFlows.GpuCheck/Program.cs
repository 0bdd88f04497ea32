using System.Globalization;
using NormalizingFlows.Cuda;
using NormalizingFlows.GpuCheck;

// The GPU check: correctness of the device flows against the library's CPU path, then the tab18 workloads
// (shared/bench/README.md), one JSON line each, a summary line last. Packed with shared/gpu/pack.sh for the GPU
// machine (no .NET there).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var options = CheckOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: NormalizingFlows.GpuCheck [--all | --check | --bench] [--device cuda|cpu-accelerator] [--data DIR] [--models realnvp,nsf_c,maf,maf_rqs] [--calo [--calo-showers N]] [--quality] [--quick] [--no-families | --families LIST] [--families-only]");
    Console.Error.WriteLine($"  --families: the other flow families checked with --check (default all: {string.Join(",", BenchFlows.Families)}); --no-families: none; --families-only: those checks alone (the device plan's `families` stage)");
    Console.Error.WriteLine("  --all: correctness checks, then the workloads; --device: default cuda; --data: the folder with tab18_train.npy");
    Console.Error.WriteLine("  (default: shared/bench/data above the working directory, else synthetic standard-normal data, said in the JSON); --quick: small sizes");
    Console.Error.WriteLine("  --calo: CaloFlow flow-II sampling (incremental teacher, full-pass teacher, student) and the teacher's time per epoch on the device and on the CPU (N toy e+ showers, default 10000), then a few distillation steps of its IAF student on both");
    Console.Error.WriteLine("  --quality: each model trained at the reference budget on the device and on the CPU (same seed and weights), tab18_test scored, one check per model");
    return 2;
}
ComputeDevice device;
try { device = ComputeDevice.Create(options.Device); }
catch (Exception e) when (e is InvalidOperationException or ArgumentException)
{
    string message = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
    Json.Line(("check", "all"), ("pass", false), ("failed", new[] { "device" }), ("error", message.Split('\n')[0]));
    return 2;
}
using (device)
{
    var outcome = new Outcome(device.Name);
    if (options.Check) Checks.Run(device, options, outcome);
    else if (options.FamiliesOnly) Checks.RunFamilies(device, options, outcome);
    if (options.Check) GraphChecks.Check(device, options, outcome);
    if (options.Bench) Workloads.Run(device, options, outcome);
    if (options.Bench) GraphChecks.Bench(device, options, outcome);
    if (options.Calo)
    {
        Workloads.CaloShapes(device, options, outcome);
        CaloTeacher.Run(device, options, outcome);
        CaloDistill.Run(device, options, outcome);
    }
    if (options.Quality) Quality.Run(device, options, outcome);
    outcome.Summary();
    return outcome.Pass ? 0 : 1;
}
