Console.WriteLine("usage: NormalizingFlows.Bench gemm|flows|quality");
return 0;
