using NormalizingFlows.Bench;

// Mode dispatcher: one case per benchmark mode.
switch (args.Length > 0 ? args[0] : "")
{
    case "gemm":
        return GemmBench.Run(args[1..]);
    default:
        Console.Error.WriteLine("usage: NormalizingFlows.Bench <mode> [options]");
        Console.Error.WriteLine("  gemm [--threads 1|2|all] [--dtype float32|float64|all] [--quick] [--isa auto|avx2|avx512|portable|all] [--shapes main|flow|wgrad|all]");
        Console.Error.WriteLine("       [--shape m,k,n,TRANS]... [--best] [--no-blas] [--kc N] [--mc N] [--nc N]   (tuning)");
        Console.Error.WriteLine("       --pool-overhead | --split-probe [k]                                      (threading diagnostics)");
        return 2;
}
