namespace NormalizingFlows.GpuCheck;

/// <summary>The command line of the check program.</summary>
internal sealed record CheckOptions(bool Check, bool Bench, string Device, string? DataDir, string[] Models, bool Quick, bool Calo = false, int CaloShowers = 10_000, bool Quality = false, string[]? Families = null, bool FamiliesOnly = false)
{
    public static readonly string[] AllModels = ["realnvp", "nsf_c", "maf", "maf_rqs"];

    public static CheckOptions? Parse(string[] args)
    {
        bool check = false, bench = false, quick = false, calo = false, quality = false, familiesOnly = false;
        string[] families = BenchFlows.Families;
        int caloShowers = 10_000;
        string device = "cuda";
        string? data = null;
        var models = AllModels;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "--device" or "--data" or "--models" or "--families" or "--calo-showers" && i + 1 >= args.Length) { Console.Error.WriteLine($"{args[i]} needs a value"); return null; }
            string Next() => args[++i];
            switch (args[i])
            {
                case "--all": check = bench = true; break;
                case "--check": check = true; break;
                case "--bench": bench = true; break;
                case "--quick": quick = true; break;
                case "--calo": calo = true; break;
                case "--quality": quality = true; break;
                case "--no-families": families = []; break;
                case "--families-only": familiesOnly = true; break;
                case "--families":
                    families = Next().Split(',', StringSplitOptions.RemoveEmptyEntries);
                    if (families.Except(BenchFlows.Families).FirstOrDefault() is { } unknown) { Console.Error.WriteLine($"unknown family '{unknown}' (known: {string.Join(", ", BenchFlows.Families)})"); return null; }
                    break;
                case "--calo-showers":
                    if (!int.TryParse(Next(), out caloShowers) || caloShowers < 2) { Console.Error.WriteLine($"--calo-showers {args[i]}: needs an integer ≥ 2"); return null; }
                    break;
                case "--device": device = Next(); break;
                case "--data": data = Next(); break;
                case "--models":
                    models = Next().Split(',', StringSplitOptions.RemoveEmptyEntries);
                    if (models.Except(AllModels).FirstOrDefault() is { } bad) { Console.Error.WriteLine($"unknown model '{bad}'"); return null; }
                    break;
                default: Console.Error.WriteLine($"unknown option '{args[i]}'"); return null;
            }
        }
        return check || bench || calo || quality || familiesOnly ? new CheckOptions(check, bench, device, data, models, quick, calo, caloShowers, quality, families, familiesOnly) : null;
    }
}
