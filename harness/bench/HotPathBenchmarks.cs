using VfioFuzz.Benchmarking;
using BenchmarkDotNet.Attributes;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;
using VfioFuzz.Targets;

namespace VfioFuzz.Bench;

/// <summary>Each stage of one execution, per 32-op program: decode, the World (ops applied,
/// FlatView rendered and diffed), and the whole run (listener + sim IOAS + oracles).</summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    byte[][] _inputs = [];
    FuzzProgram[] _programs = [];
    ProgramRunner _runner = null!;
    int _next;

    [GlobalSetup]
    public void Setup()
    {
        (_inputs, _programs) = BenchWorkload.Create(64);
        var catalog = new TargetCatalog(typeof(Qemu110).Assembly);
        _runner = new ProgramRunner(BenchWorkload.Profile, () => catalog.Create(BenchWorkload.TargetId));
    }

    int Next() => _next = (_next + 1) & 63;

    [Benchmark]
    public int Decode() => ProgramDecoder.Decode(_inputs[Next()], BenchWorkload.Profile).Ops.Length;

    [Benchmark]
    public int WorldApply()
    {
        var world = new World(BenchWorkload.Profile);
        foreach (var op in _programs[Next()].Ops) world.Apply(op, IgnoreWorldEvents.Instance);
        return world.View.Sections.Length;
    }

    [Benchmark]
    public int RunProgram() => _runner.Run(_programs[Next()]).Findings.Count;

    /// <summary>What a fuzzing execution is: bytes in, decoded as the run goes.</summary>
    [Benchmark]
    public int RunBytes() => _runner.Run(_inputs[Next()], out _).Findings.Count;

    [Benchmark(Baseline = true)]
    public int RunEmptyProgram() => _runner.Run(FuzzProgram.Empty).Findings.Count;
}
