using VfioFuzz.Machine;
using VfioFuzz.Programs;

namespace VfioFuzz.Benchmarking;

/// <summary>The workload every throughput figure shares (BenchmarkDotNet's and `vfio-fuzz
/// bench`'s): seeded random inputs that decode to exactly 32 ops on the CXL Type-2 profile
/// (the profile of all three seed bugs), run against upstream (qemu-11.0).</summary>
public static class BenchWorkload
{
    public static readonly Profile Profile = Profile.VrCxlType2;
    public const string TargetId = "qemu-11.0";
    public const int OpsPerProgram = 32;

    public static (byte[][] Inputs, FuzzProgram[] Programs) Create(int count, int seed = 42)
    {
        var rng = new Random(seed);
        var inputs = new List<byte[]>();
        var programs = new List<FuzzProgram>();
        while (programs.Count < count)
        {
            var bytes = new byte[OpsPerProgram * 4 + 64];
            rng.NextBytes(bytes);
            var p = ProgramDecoder.Decode(bytes, Profile);
            if (p.Ops.Length < OpsPerProgram) continue;
            var exact = new FuzzProgram(p.Ops[..OpsPerProgram]);
            inputs.Add(ProgramEncoder.Encode(exact, Profile, out _)!);
            programs.Add(exact);
        }
        return (inputs.ToArray(), programs.ToArray());
    }
}
