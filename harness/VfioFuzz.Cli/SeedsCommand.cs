using System.CommandLine;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Reports;

namespace VfioFuzz.Cli;

/// <summary>`seeds`: the engines' starting inputs for a profile, for builds that run the engines
/// themselves (ClusterFuzzLite/OSS-Fuzz's build.sh, an AFL++ sync box): one file per
/// corpus/seeds entry, and with --dict the dictionary of the ops they are made of.</summary>
static class SeedsCommand
{
    public static Command Create()
    {
        var profile = new Option<string>("--profile") { Description = $"{string.Join(", ", Profile.BuiltIn.Select(p => p.Name))}, or all (then one subfolder per profile)", DefaultValueFactory = _ => "vr-cxl-type2" };
        var kernel = new Option<string?>("--kernel") { Description = "dmabuf or no-dmabuf (default: the profile's)" };
        var output = new Option<string>("--out") { Description = "folder for the seed inputs (one file per seed)", Required = true };
        var dict = new Option<string?>("--dict") { Description = "also write an AFL++/libFuzzer dictionary of the seeds' ops to this file" };
        var seeds = new Option<string>("--seeds") { Description = "the seed corpus", DefaultValueFactory = _ => "corpus/seeds" };
        var cmd = new Command("seeds", "Write the byte form of corpus/seeds for a profile (and a dictionary of its ops)") { profile, kernel, output, dict, seeds };
        cmd.SetAction(r => Run(r.GetValue(profile)!, r.GetValue(kernel), r.GetValue(output)!, r.GetValue(dict), r.GetValue(seeds)!));
        return cmd;
    }

    static int Run(string profileName, string? kernel, string output, string? dict, string seedsDir)
    {
        IReadOnlyList<Profile> profiles;
        try { profiles = profileName == "all" ? Profile.BuiltIn.Select(p => Profile.Resolve(p.Name, kernel)).ToArray() : [Profile.Resolve(profileName, kernel)]; }
        catch (ArgumentException e) { return Cli.Fail(e.Message); }
        if (!Directory.Exists(seedsDir)) return Cli.Fail($"--seeds {seedsDir}: no such folder");
        OutputFolder.EnsureWritable(output, "--out");
        if (dict is not null) OutputFolder.EnsureWritableFile(dict, "--dict");
        var all = new List<SeedInputs.Seed>();
        foreach (var profile in profiles)
        {
            string folder = profileName == "all" ? Path.Combine(output, profile.Name) : output;
            Directory.CreateDirectory(folder);
            var inputs = SeedInputs.For(seedsDir, profile);
            foreach (var seed in inputs) File.WriteAllBytes(Path.Combine(folder, seed.Id), seed.Bytes);
            Console.WriteLine($"seeds: {inputs.Count} input(s) for {profile.Name} (kernel {Profile.KernelName(profile.Kernel)}) in {folder}");
            all.AddRange(inputs);
        }
        if (dict is not null)
        {
            int tokens = SeedInputs.WriteDictionary(dict, all, seedsDir);
            Console.WriteLine($"dictionary: {tokens} op token(s) in {dict}");
        }
        return Cli.Ok;
    }
}
