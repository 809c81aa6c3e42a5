using VfioFuzz.Iommufd;

namespace VfioFuzz.Tests;

/// <summary>A kernel for the differential tests: the simulator's answers, with no MAP_FILE (6.12), a
/// domain whose page table always answers <paramref name="domainSays"/> (null: what the areas
/// hold), or a narrower aperture when asked.</summary>
sealed class StandInKernel(SimIoas inner, bool hasMapFile = true, bool? domainSays = null) : IKernelIoas
{
    public ulong IovaAlignment => inner.IovaAlignment;
    public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags) => inner.Map(iova, length, userVa, flags);
    public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags) =>
        hasMapFile ? inner.MapFile(iova, length, fd, start, flags) : Errno.ENOTTY;
    public Errno MapFileByAddress(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags) => inner.MapFile(iova, length, fd, start, flags);
    public Errno Unmap(ulong iova, ref ulong length) => inner.Unmap(iova, ref length);
    public bool? DomainMaps(ulong iova, ulong userVa) => domainSays ?? inner.Covers(iova, inner.IovaAlignment);
    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => inner.AreasIn(start, end);
    public void Dispose() { }
}
