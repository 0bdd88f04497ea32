using System.CommandLine;
using NormalizingFlows.Cuda;

namespace NormalizingFlows.Cli;

/// <summary>
/// <c>--device cpu|cuda|cuda-graphs|cpu-accelerator</c>, shared by the verbs that run a flow on a GPU (train, sample, logprob,
/// eval, infer, calo train, distill, generate and eval), and the refusal the other verbs give.
/// </summary>
internal static class DeviceOption
{
    public const string Name = "--device";

    /// <summary>The devices <see cref="Create"/> accepts: the CPU (the library), CUDA (with training steps replayed as CUDA graphs: cuda-graphs), and the CUDA kernels run on the CPU (slow; for tests).</summary>
    public static readonly string[] Devices = ["cpu", "cuda", "cuda-graphs", "cpu-accelerator"];

    public static Option<string> Create(string what)
    {
        var o = new Option<string>(Name)
        {
            Description = $"Where {what} runs: cpu (the library), cuda (an NVIDIA GPU with cuBLAS: coupling, MAF and Glow flows, affine or spline, conditional or not, with a context embedding or summary network, float32), cuda-graphs (cuda with each training step replayed as one captured CUDA graph: fewer launches at small batches; opt-in), or cpu-accelerator (the GPU kernels run on the CPU: slow, for testing); default: cpu",
            DefaultValueFactory = _ => "cpu",
            HelpName = "cpu|cuda|cuda-graphs|cpu-accelerator",
        };
        Commands.OneOf(o, "device", Devices);
        return o;
    }

    /// <summary>A hidden <c>--device</c> for a verb that runs on the CPU only: any other value is refused with "not supported on the device yet".</summary>
    public static Option<string> CpuOnly(string verb, string why)
    {
        var o = new Option<string>(Name) { Hidden = true, DefaultValueFactory = _ => "cpu", Recursive = true };
        o.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && r.Tokens[0].Value != "cpu") r.AddError($"--device {r.Tokens[0].Value}: not supported on the device yet: {verb} ({why}); leave --device out");
        });
        return o;
    }

    /// <summary>
    /// The device <paramref name="name"/> names (null for cpu); a missing GPU or cuBLAS is an <see cref="ArgumentException"/>
    /// with one line ("--device cuda: no CUDA device: …").
    /// </summary>
    public static ComputeDevice? Open(string name)
    {
        if (name == "cpu") return null;
        try { return ComputeDevice.Create(name); }
        catch (Exception e) when (e is InvalidOperationException or DllNotFoundException or TypeInitializationException)
        {
            throw new ArgumentException($"{Name} {name}: {e.Message.Split('\n')[0].TrimEnd('\r')}", e);
        }
    }

    /// <summary>Runs <paramref name="job"/>; a part the device cannot run (<see cref="NotSupportedException"/>) becomes a one-line error naming it.</summary>
    public static T Refusing<T>(string name, Func<T> job)
    {
        try { return job(); }
        catch (NotSupportedException e) when (name != "cpu")
        {
            throw new ArgumentException($"{Name} {name}: {e.Message.Split('\n')[0].TrimEnd('\r')}", e);
        }
    }
}
