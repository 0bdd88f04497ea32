using System.Globalization;
using NormalizingFlows.Cuda;
using NormalizingFlows.GpuCheck;

// The GPU check: correctness of the device flows against the library's CPU path, then the tab18 workloads
// (shared/bench/README.md), one JSON line each. Packed with shared/gpu/pack.sh for the GPU machine (no .NET there).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var options = CheckOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: NormalizingFlows.GpuCheck [--all | --check | --bench] [--device cuda|cpu-accelerator] [--data DIR] [--models realnvp,nsf_c,maf,maf_rqs] [--quick]");
    Console.Error.WriteLine("  --all: correctness checks, then the workloads; --device: default cuda; --data: the folder with tab18_train.npy");
    Console.Error.WriteLine("  (default: ../shared/bench/data, else synthetic standard-normal data of the same shape, said in the JSON); --quick: small sizes");
    return 2;
}
ComputeDevice device;
try { device = ComputeDevice.Create(options.Device); }
catch (InvalidOperationException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
using (device)
{
    bool ok = true;
    if (options.Check) ok = Checks.Run(device, options);
    if (options.Bench) Workloads.Run(device, options);
    return ok ? 0 : 1;
}
