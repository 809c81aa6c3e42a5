namespace VfioFuzz.Iommufd;

/// <summary>
/// `--backend iommufd --differential`: every call goes to the real kernel's IOAS and to the
/// simulator, in lockstep, and the listener gets the kernel's answer. A different errno, a
/// different unmapped length, or a different set of areas after the call is a
/// <see cref="BackendDivergenceException"/> (the runner makes it a backend-divergence
/// finding). Where a mock domain is attached, the kernel's own page table is asked too
/// (IOMMU_TEST_OP_MD_CHECK_MAP): after a map, that its first and last page map the memory
/// asked for; after an unmap, that each removed area's first page is gone.
/// A kernel without IOMMU_IOAS_MAP_FILE (before 6.14) cannot answer a MAP_FILE a dmabuf World
/// makes: the simulator answers it, the kernel maps the same file range by address so the two
/// stay in lockstep, and <see cref="SimulatorAnswers"/> counts it for the report.
/// </summary>
public sealed class DifferentialIoas(IKernelIoas kernel, SimIoas sim, SimulatorAnswers answered) : IIoas, IDisposable
{
    // The user VA each address map was given, by IOVA: what the domain must show there.
    readonly Dictionary<ulong, ulong> _userVa = [];

    public ulong IovaAlignment => kernel.IovaAlignment;

    public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags)
    {
        var k = kernel.Map(iova, length, userVa, flags);
        var s = sim.Map(iova, length, userVa, flags);
        string call = $"IOMMU_IOAS_MAP iova 0x{iova:x} length 0x{length:x}";
        Lockstep.Answers("map", call, k, s);
        if (k == Errno.Ok)
        {
            _userVa[iova] = userVa;
            CheckDomain(call, iova, userVa, mapped: true);
            CheckDomain(call, iova + length - kernel.IovaAlignment, userVa + length - kernel.IovaAlignment, mapped: true);
        }
        Lockstep.Areas("map", call, kernel, sim);
        return k;
    }

    public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags)
    {
        var k = kernel.MapFile(iova, length, fd, start, flags);
        var s = sim.MapFile(iova, length, fd, start, flags);
        string call = $"IOMMU_IOAS_MAP_FILE iova 0x{iova:x} length 0x{length:x}";
        if (k == Errno.ENOTTY && s != Errno.ENOTTY)
        {
            // The kernel has no MAP_FILE; the World was rendered for one that has.
            answered.Add("IOMMU_IOAS_MAP_FILE");
            if (s == Errno.Ok && kernel.MapFileByAddress(iova, length, fd, start, flags) is var byAddress && byAddress != Errno.Ok)
                throw new BackendDivergenceException("map-file-by-address", call,
                    $"the simulator mapped it; the kernel refused the same file range mapped by address with {byAddress}");
            Lockstep.Areas("map-file", call, kernel, sim);
            return s;
        }
        Lockstep.Answers("map-file", call, k, s);
        Lockstep.Areas("map-file", call, kernel, sim);
        return k;
    }

    public Errno Unmap(ulong iova, ref ulong length)
    {
        UInt128 end = iova == 0 && length == ulong.MaxValue ? (UInt128)ulong.MaxValue + 1 : (UInt128)iova + length;
        var before = sim.AreasIn(iova, end);
        ulong kernelLength = length, simLength = length;
        var k = kernel.Unmap(iova, ref kernelLength);
        var s = sim.Unmap(iova, ref simLength);
        string call = $"IOMMU_IOAS_UNMAP iova 0x{iova:x} length 0x{length:x}";
        Lockstep.Answers("unmap", call, k, s);
        if (k == Errno.Ok)
        {
            Lockstep.Lengths("unmap", call, kernelLength, simLength);
            foreach (var area in before)
                if (_userVa.Remove(area.Iova, out ulong va))
                    CheckDomain(call, area.Iova, va, mapped: false);
            length = kernelLength;
        }
        Lockstep.Areas("unmap", call, kernel, sim);
        return k;
    }

    void CheckDomain(string call, ulong iova, ulong userVa, bool mapped)
    {
        if (kernel.DomainMaps(iova, userVa) is not { } maps || maps == mapped) return;
        throw new BackendDivergenceException(mapped ? "domain:not-mapped" : "domain:still-mapped", call,
            mapped ? $"the kernel answered OK but its domain does not map IOVA 0x{iova:x} to the memory asked for"
                   : $"the kernel unmapped the area, but its domain still maps IOVA 0x{iova:x}");
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => kernel.AreasIn(start, end);

    public void Dispose() => kernel.Dispose();
}
