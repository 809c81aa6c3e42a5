using VfioFuzz.Iommufd;

namespace VfioFuzz.Type1;

/// <summary>
/// The differential backend of a type1 container: every call on a real container (in the lab,
/// one served by iommufd's VFIO compatibility layer over a mock domain) and on its simulator,
/// in lockstep; the listener gets the kernel's answer. A different errno, a different unmapped
/// size, or a different set of entries after the call is a
/// <see cref="BackendDivergenceException"/>, as for an IOAS (<see cref="DifferentialIoas"/>).
/// </summary>
public sealed class DifferentialType1(VfioType1Container kernel, IType1Iommu sim) : IType1Iommu, IDisposable
{
    public ulong IovaPgsizes => kernel.IovaPgsizes;

    public bool UnmapAllSupported => kernel.UnmapAllSupported;

    public Errno MapDma(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags)
    {
        var k = kernel.MapDma(iova, size, vaddr, flags);
        var s = sim.MapDma(iova, size, vaddr, flags);
        string call = $"VFIO_IOMMU_MAP_DMA iova 0x{iova:x} size 0x{size:x}";
        Lockstep.Answers("type1-map", call, k, s);
        Lockstep.Areas("type1-map", call, kernel, sim);
        return k;
    }

    public Errno UnmapDma(ulong iova, ref ulong size, Type1UnmapFlags flags)
    {
        ulong kernelSize = size, simSize = size;
        var k = kernel.UnmapDma(iova, ref kernelSize, flags);
        var s = sim.UnmapDma(iova, ref simSize, flags);
        string call = $"VFIO_IOMMU_UNMAP_DMA iova 0x{iova:x} size 0x{size:x} flags 0x{(uint)flags:x}";
        Lockstep.Answers("type1-unmap", call, k, s);
        Lockstep.Lengths("type1-unmap", call, kernelSize, simSize);
        Lockstep.Areas("type1-unmap", call, kernel, sim);
        size = kernelSize;
        return k;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => kernel.AreasIn(start, end);

    public void Dispose() => kernel.Dispose();
}
