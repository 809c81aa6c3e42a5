using BenchmarkDotNet.Attributes;
using VfioFuzz.Benchmarking;
using VfioFuzz.Listener;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using VfioFuzz.Targets;

namespace VfioFuzz.Bench;

/// <summary>
/// What each op costs a whole execution (World, listener, sim IOAS, oracles), so a slow op shows
/// by name: per op kind, 32-op programs made of that op and the op that makes it legal again
/// (map/unmap, reset/init-done, plug/unplug...), decoded from inputs whose opcode bytes are forced
/// and whose argument bytes are random; time is per op (OperationsPerInvoke = 32), on the
/// workload's profile and target. Two kinds need one op first (the vIOMMU on for IOTLB entries, a
/// plugged DIMM for read-only flips): it is one of the 32. The empty program's run (boot,
/// register, teardown) is in every program's time once: see HotPathBenchmarks.RunEmptyProgram.
/// </summary>
[MemoryDiagnoser]
public class OpKindBenchmarks
{
    /// <summary>Pairs of opcodes (ProgramDecoder's numbering, opcode byte modulo its OpCodes),
    /// named by the ops they decode to.</summary>
    static readonly Dictionary<string, (byte First, byte Second, (byte Code, byte Arg)? Before)> Pairs = new()
    {
        ["map-region/unmap-region"] = (0, 1, null),
        ["command-mem"] = (2, 2, null),
        ["move-bar"] = (3, 3, null),
        ["system-reset"] = (4, 4, null),
        ["device-reset/device-init-done"] = (5, 6, null),
        ["ats-access"] = (7, 7, null),
        ["viommu"] = (8, 8, null),
        ["iotlb-map/iotlb-unmap"] = (9, 10, (8, 1)),       // viommu on
        ["intx/intx-mmap-timer"] = (11, 12, null),
        ["readonly"] = (13, 13, (0, 0)),                  // a DIMM plugged
        ["bar-sizing"] = (14, 14, null),
        ["vmem-plug/vmem-unplug"] = (15, 16, null),
        ["dirty-tracking"] = (17, 17, null),
        ["device-flr/device-init-done"] = (18, 6, null),
        ["hdm-decommit/hdm-commit"] = (20, 19, null),
        ["fail-nth/command-mem"] = (21, 2, null),          // an injected map failure, then maps to fail
    };

    const int Ops = BenchWorkload.OpsPerProgram;

    [ParamsSource(nameof(Kinds))]
    public string Kind { get; set; } = "";

    public static IEnumerable<string> Kinds => Pairs.Keys;

    FuzzProgram[] _programs = [];
    ProgramRunner _runner = null!;
    int _next;

    [GlobalSetup]
    public void Setup()
    {
        var (first, second, before) = Pairs[Kind];
        var rng = new Random(42);
        var programs = new List<FuzzProgram>();
        for (int attempt = 0; programs.Count < 16 && attempt < 10_000; attempt++)
        {
            var bytes = new byte[ProgramDecoder.MaxInputBytes];
            rng.NextBytes(bytes);
            for (int op = 0; op < ProgramDecoder.MaxOps; op++) bytes[op * 4] = op % 2 == 0 ? first : second;
            if (before is var (code, arg)) (bytes[0], bytes[1]) = (code, arg);
            var program = ProgramDecoder.Decode(bytes, BenchWorkload.Profile);
            if (program.Ops.Length >= Ops) programs.Add(new FuzzProgram(program.Ops[..Ops]));
        }
        if (programs.Count == 0) throw new InvalidOperationException($"no {Ops}-op program of {Kind} decodes on {BenchWorkload.Profile.Name}");
        _programs = [.. programs];
        var catalog = new TargetCatalog(typeof(Qemu110).Assembly);
        _runner = new ProgramRunner(BenchWorkload.Profile, () => catalog.Create(BenchWorkload.TargetId));
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int RunOpKind() => _runner.Run(_programs[_next = (_next + 1) % _programs.Length]).Findings.Count;
}
