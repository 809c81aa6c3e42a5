using BenchmarkDotNet.Attributes;
using VfioFuzz.Benchmarking;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Memory;
using VfioFuzz.Oracles;
using VfioFuzz.Targets;

namespace VfioFuzz.Bench;

/// <summary>The two per-transaction costs outside the World: a target's region_add +
/// region_del of one section (listener checks + container + sim IOAS), and the oracles'
/// per-commit checks over a whole view.</summary>
[MemoryDiagnoser]
public class ListenerBenchmarks
{
    World _world = null!;
    ListenerTarget _target = null!;
    Section _ram, _dpa;
    SimIoas _ioas = null!, _replayed = null!;

    [GlobalSetup]
    public void Setup()
    {
        _world = new World(BenchWorkload.Profile);
        _ioas = new SimIoas(BenchWorkload.Profile, _world.Host);
        _target = new TargetCatalog(typeof(Qemu110).Assembly).Create(BenchWorkload.TargetId);
        _target.Register(new ListenerEnvironment(_ioas, _world.Host, BenchWorkload.Profile.HostPageSize, _world.Devices, TraceLog.Disabled));
        _target.Initialized();
        // The oracles check a view whose sections the listener has all mapped (no findings:
        // the hot path, not the report path).
        _replayed = new SimIoas(BenchWorkload.Profile, _world.Host);
        var replayer = new TargetCatalog(typeof(Qemu110).Assembly).Create(BenchWorkload.TargetId);
        replayer.Register(new ListenerEnvironment(_replayed, _world.Host, BenchWorkload.Profile.HostPageSize, _world.Devices, TraceLog.Disabled));
        foreach (var s in _world.View.Sections) replayer.RegionAdd(s);
        _ram = _world.View.Sections.First(s => s.Mr.Role == RegionRole.GuestRam);
        _dpa = _world.View.Sections.First(s => s.Mr.Role == RegionRole.CxlDpa);
    }

    /// <summary>Guest RAM: the VA path (IOMMU_IOAS_MAP).</summary>
    [Benchmark]
    public void RegionAddDelRam()
    {
        _target.RegionAdd(_ram);
        _target.RegionDel(_ram);
    }

    /// <summary>A CXL DPA BAR mmap: ram_device checks and, on a dmabuf kernel, MAP_FILE.</summary>
    [Benchmark]
    public void RegionAddDelCxlDpa()
    {
        _target.RegionAdd(_dpa);
        _target.RegionDel(_dpa);
    }

    /// <summary>All four oracles' AfterCommit with nothing cached (what every commit after an
    /// unmap costs: every section of the view checked against the IOAS).</summary>
    [Benchmark]
    public int OraclesAfterCommitFullView()
    {
        var ctx = new RunContext(_world, _replayed);
        foreach (var o in Oracle.CreateAll()) o.AfterCommit(ctx);
        return ctx.Findings.Count;
    }
}
