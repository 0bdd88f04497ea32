using System.Globalization;
using NormalizingFlows.Bench;
using TorchSharp;
using static TorchSharp.torch;

// MKL's SGEMM through TorchSharp's torch.mm (libtorch 2.10 + MKL), timed like `bench gemm` (GemmTiming.Rate), one
// JSON line per shape in `bench gemm`'s format. Transposed operands are .t() views of the stored matrix, so libtorch
// passes MKL a transpose flag instead of copying (`--probe` shows MKL_VERBOSE's SGEMM calls, which prove it).
var inv = CultureInfo.InvariantCulture;
int threads = 1;
bool quick = false, best = false, probe = false;
string op = "mm";
var shapes = new List<(int M, int K, int N, string Trans)>();
for (int i = 0; i < args.Length; i++)
{
    string v = i + 1 < args.Length ? args[i + 1] : "";
    switch (args[i])
    {
        case "--threads": threads = int.Parse(v, inv); i++; break;
        case "--shape":
        {
            string[] f = v.Split(',');
            if (f.Length != 4 || f[3] is not ("NN" or "NT" or "TN" or "TT"))
            {
                Console.Error.WriteLine($"AnchorMm: --shape wants m,k,n,NN|NT|TN|TT, got '{v}'");
                return 2;
            }
            shapes.Add((int.Parse(f[0], inv), int.Parse(f[1], inv), int.Parse(f[2], inv), f[3]));
            i++;
            break;
        }
        case "--op":
            if (v is not ("mm" or "addmm_")) { Console.Error.WriteLine($"AnchorMm: --op wants mm or addmm_, got '{v}'"); return 2; }
            op = v;
            i++;
            break;
        case "--quick": quick = true; break;
        case "--best": best = true; break;
        case "--probe": probe = true; break;
        default:
            Console.Error.WriteLine($"AnchorMm: unknown option {args[i]}");
            Console.Error.WriteLine("usage: dotnet AnchorMm.dll [--threads N] [--shape m,k,n,NN|NT|TN|TT]... [--op mm|addmm_] [--quick] [--best] | --probe");
            return 2;
    }
}

torch.set_num_threads(threads);
string tag = Environment.GetEnvironmentVariable("MKL_ENABLE_INSTRUCTIONS") is { Length: > 0 } cap ? "mkl-" + cap.ToLowerInvariant() : "mkl";

if (probe)
{
    // One small torch.mm per transpose variant: run with MKL_VERBOSE=1, MKL prints its version and code path
    // ("… enabled processors") and each SGEMM call with its transpose flags (N,N / T,N / N,T / T,T: no copies).
    foreach (string t in new[] { "NN", "NT", "TN", "TT" })
    {
        var (a, b) = Operands(48, 32, 40, t, seed: 1);
        using (a) using (b) using (torch.mm(a, b)) { }
    }
    Console.WriteLine(string.Create(inv, $"{{\"bench\":\"gemm-probe\",\"lib\":\"torchsharp\",\"isa\":\"{tag}\",\"torch_threads\":{torch.get_num_threads()}}}"));
    return 0;
}

foreach (var (m, k, n, trans) in shapes)
{
    var (a, b) = Operands(m, k, n, trans, seed: 42);
    using var c = torch.zeros(m, n);
    double flops = 2.0 * m * n * k;
    double minTime = quick ? 0.05 : 0.2;
    Action f = op == "mm"
        ? () => { using var r = torch.mm(a, b); }
        : () => c.addmm_(a, b, beta: 0, alpha: 1);
    double rate = GemmTiming.Rate(f, flops, minTime, best);
    a.Dispose();
    b.Dispose();
    double peak = GemmTiming.PeakF32PerThread * threads;
    Console.WriteLine(string.Create(inv,
        $"{{\"bench\":\"gemm\",\"dtype\":\"float32\",\"m\":{m},\"k\":{k},\"n\":{n},\"trans\":\"{trans}\",\"threads\":{threads},\"isa\":\"{tag}\",\"gflops\":{rate:F2},\"peak_fraction\":{rate / peak:F3},\"openblas_gflops\":null,\"lib\":\"torchsharp\",\"op\":\"{op}\",\"torch_threads\":{torch.get_num_threads()}}}"));
}
return 0;

// A (m×k) and B (k×n) as `bench gemm` lays them out (row-major, "T" = stored transposed, lda = m or ldb = k), filled
// as it fills them; a transposed operand is a .t() view of the stored matrix (no copy).
static (Tensor A, Tensor B) Operands(int m, int k, int n, string trans, int seed)
{
    bool ta = trans[0] == 'T', tb = trans[1] == 'T';
    var rng = new Random(seed);
    var a = new float[(long)m * k];
    var b = new float[(long)k * n];
    for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() - 0.5);
    for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5);
    var ta0 = ta ? torch.tensor(a, [k, m]) : torch.tensor(a, [m, k]);
    var tb0 = tb ? torch.tensor(b, [n, k]) : torch.tensor(b, [k, n]);
    return (ta ? View(ta0) : ta0, tb ? View(tb0) : tb0);
}

// The transposed view; the stored tensor's handle is released (the view keeps the storage).
static Tensor View(Tensor stored)
{
    var v = stored.t();
    stored.Dispose();
    return v;
}
