using NormalizingFlows.Bench;

// Mode dispatcher: one case per benchmark mode. Every mode prints one JSON line per measurement.
switch (args.Length > 0 ? args[0] : "")
{
    case "gemm":
        return GemmBench.Run(args[1..]);
    case "elementwise":
        return ElementwiseBench.Run(args[1..]);
    case "spline":
        return SplineBench.Run(args[1..]);
    case "flows":
        return FlowsBench.Run(args[1..]);
    case "quality":
        return QualityBench.Run(args[1..]);
    case "side-by-side":
        return SideBySideBench.Run(args[1..]);
    case "alloc":
        return AllocBench.Run(args[1..]);
    case "direct-a":
        return DirectABench.Run(args[1..]);
    default:
        Console.Error.WriteLine("usage: NormalizingFlows.Bench <mode> [options]");
        Console.Error.WriteLine("  gemm [--threads 1|2|all] [--dtype float32|float64|all] [--quick] [--isa auto|avx2|avx512|portable|all] [--shapes main|flow|wgrad|mkl|all]");
        Console.Error.WriteLine("       [--shape m,k,n,TRANS]... [--best] [--no-blas] [--kc N] [--mc N] [--nc N]   (tuning)");
        Console.Error.WriteLine("       --pool-overhead | --split-probe [k]                                      (threading diagnostics)");
        Console.Error.WriteLine("  gemm --side-by-side --anchor-mm AnchorMm.dll [--threads 1,2] [--rounds 2] [--shapes mkl|main|flow|wgrad|all] [--shape m,k,n,TRANS]...");
        Console.Error.WriteLine("       [--group 15] [--mkl-caps default,AVX2] [--quick] [--out F.jsonl]   ours and MKL's torch.mm (bench/AnchorMm), alternating; ours / MKL per shape");
        Console.Error.WriteLine("  elementwise [--threads N] [--n N]... [--quick]");
        Console.Error.WriteLine("  spline      rational-quadratic spline kernels (forward, inverse and both backwards; float32 and float64)");
        Console.Error.WriteLine("  flows [--model realnvp|nsf_c|maf|maf_rqs|naf|umnn|cnf|flow_matching|all] [--data moons2d|checker2d|tab18|all] [--threads N,M,...|all] [--phase train,log_prob,sample] [--batches 512,4096] [--quick] [--data-dir DIR]");
        Console.Error.WriteLine("  side-by-side --anchor TsBench.dll [--model ...] [--data ...] [--threads 1,2] [--rounds 3] [--caps auto,avx2] [--phase ...] [--quick] [--out F.jsonl]");
        Console.Error.WriteLine("              ours and the TorchSharp anchor, one process each, alternating; prints ours / anchor per workload");
        Console.Error.WriteLine("  alloc [--model ...] [--threads N] [--batch 512] [--features 18]   managed bytes allocated per training step");
        Console.Error.WriteLine("  direct-a [--threads N]   GEMM reading A's row panels in place vs packing them, on the flows' layer shapes");
        Console.Error.WriteLine("  quality [--model maf|nsf_c|realnvp|maf_rqs|naf|umnn|flow_matching|all] [--data checker2d|tab18|moons2d|all] [--threads N] [--steps 3000] [--batch 512] [--seed 1] [--seeds N] [--test-rows N] [--data-dir DIR]");
        return 2;
}
