using VfioFuzz.Machine;
using VfioFuzz.Programs;

namespace VfioFuzz.Bench;

/// <summary>The workload every benchmark shares: seeded random inputs that decode to exactly
/// 32 ops on the CXL Type-2 profile (the profile of all three seed bugs).</summary>
static class Programs32
{
    public static readonly Profile Profile = Profile.VrCxlType2;

    public static (byte[][] Inputs, FuzzProgram[] Programs) Create(int count, int seed = 42)
    {
        var rng = new Random(seed);
        var inputs = new List<byte[]>();
        var programs = new List<FuzzProgram>();
        while (programs.Count < count)
        {
            var bytes = new byte[32 * 4 + 64];
            rng.NextBytes(bytes);
            var p = ProgramDecoder.Decode(bytes, Profile);
            if (p.Ops.Length < 32) continue;
            var exact = new FuzzProgram(p.Ops[..32]);
            inputs.Add(ProgramEncoder.Encode(exact, Profile, out _)!);
            programs.Add(exact);
        }
        return (inputs.ToArray(), programs.ToArray());
    }
}
