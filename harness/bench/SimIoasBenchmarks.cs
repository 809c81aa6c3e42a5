using BenchmarkDotNet.Attributes;
using VfioFuzz.Iommufd;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Bench;

/// <summary>IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP of one area on the simulated IOAS with 10, 1k
/// and 100k other areas live: the cost must grow at most logarithmically.</summary>
[MemoryDiagnoser]
public class SimIoasBenchmarks
{
    [Params(10, 1_000, 100_000)]
    public int LiveMappings;

    SimIoas _ioas = null!;
    ulong _va, _probe;
    const ulong Page = 0x1000;
    const IoasMapFlags Rw = IoasMapFlags.FixedIova | IoasMapFlags.Readable | IoasMapFlags.Writeable;

    [GlobalSetup]
    public void Setup()
    {
        var host = new HostMemory();
        var ram = new MemoryRegion("ram", RegionKind.Ram, (ulong)(LiveMappings + 1) * 2 * Page, RegionRole.GuestRam, null);
        host.Allocate(ram, KernelFlavor.Dmabuf);
        _va = host[ram].Va;
        _ioas = new SimIoas(new IoasGeometry(Page, [(0, ulong.MaxValue)]), host, KernelFlavor.Dmabuf);
        // Every other page is mapped; the probe uses a hole in the middle.
        for (int i = 0; i < LiveMappings; i++) _ioas.Map((ulong)i * 2 * Page, Page, _va, Rw);
        _probe = (ulong)(LiveMappings / 2) * 2 * Page + Page;
    }

    [Benchmark]
    public Errno MapThenUnmap()
    {
        _ioas.Map(_probe, Page, _va, Rw);
        ulong length = Page;
        return _ioas.Unmap(_probe, ref length);
    }
}
