using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Memory;

namespace VfioFuzz.Targets.Model;

/// <summary>
/// The container API the listener calls over the iommufd backend layer (backends/iommufd.c): a RAMBlock with an fd goes through
/// IOMMU_IOAS_MAP_FILE, anything else through IOMMU_IOAS_MAP with READABLE|FIXED_IOVA (and
/// WRITEABLE unless read-only); EFAULT warns "PCI BAR?"; ENOENT from UNMAP counts as success
/// because vIOMMUs send redundant unmaps. Returns 0 or -errno, as QEMU does.
/// </summary>
public class IommufdContainer(ListenerEnvironment env) : VfioContainer(env)
{
    // The fd and IOAS id QEMU would print in its traces; fixed so traces are reproducible.
    const int IommufdFd = 3;
    const uint IoasId = 1;

    /// <summary>pgsizes for iommufd: out_iova_alignment of IOMMU_IOAS_IOVA_RANGES.</summary>
    public override ulong Pgsizes => Env.Ioas.IovaAlignment;

    public override int DmaMap(ulong iova, ulong size, MemoryRegion mr, ulong vaddr, bool readOnly)
    {
        var backing = Env.Host[mr];
        if (backing.Fd >= 0)
        {
            ulong start = vaddr - backing.Va + backing.FdOffset;
            return MapFileDma(iova, size, backing.Fd, start, readOnly);
        }
        return MapDma(iova, size, vaddr, readOnly);
    }

    protected int MapDma(ulong iova, ulong size, ulong vaddr, bool readOnly)
    {
        var err = Env.Ioas.Map(iova, size, vaddr, Flags(readOnly));
        if (Env.Trace.Enabled)
            Env.Trace.Emit("iommufd_backend_map_dma",
                $" iommufd={IommufdFd} ioas={IoasId} iova=0x{iova:x} size=0x{size:x} addr=0x{vaddr:x} readonly={(readOnly ? 1 : 0)} ({Ret(err)})");
        if (err == Errno.EFAULT) Env.Trace.Stderr("warning: IOMMU_IOAS_MAP failed: Bad address, PCI BAR?");
        return -(int)err;
    }

    protected int MapFileDma(ulong iova, ulong size, int fd, ulong start, bool readOnly)
    {
        var err = Env.Ioas.MapFile(iova, size, fd, start, Flags(readOnly));
        if (Env.Trace.Enabled)
            Env.Trace.Emit("iommufd_backend_map_file_dma",
                $" iommufd={IommufdFd} ioas={IoasId} iova=0x{iova:x} size=0x{size:x} fd={fd} start={start} readonly={(readOnly ? 1 : 0)} ({Ret(err)})");
        if (err == Errno.EFAULT) Env.Trace.Stderr("warning: IOMMU_IOAS_MAP_FILE failed: Bad address, PCI BAR?");
        return -(int)err;
    }

    /// <summary>unmap_all is iova 0, length UINT64_MAX. With an IOTLB entry while dirty tracking
    /// is on, the dirty bitmap of the range is read first (vfio_container_query_dirty_bitmap),
    /// so what the device dirtied survives.</summary>
    public override int DmaUnmap(ulong iova, UInt128 size, ulong? translatedAddr = null)
    {
        if (translatedAddr is { } marked && DirtyTrackingStarted)
        {
            Env.DirtyLog?.Sync(iova, size, marked);
            if (Env.Trace.Enabled)
                Env.Trace.Emit("iommufd_backend_get_dirty_bitmap",
                    $" iommufd={IommufdFd} hwpt={IoasId + 1} iova=0x{iova:x} size=0x{size:x} page_size=0x{Env.HostPageSize:x} (0)");
        }
        ulong length = IsUnmapAll(size) ? ulong.MaxValue : (ulong)size;
        ulong requested = length;
        var err = Env.Ioas.Unmap(iova, ref length);
        if (err == Errno.ENOENT)
        {
            if (Env.Trace.Enabled)
                Env.Trace.Emit("iommufd_backend_unmap_dma_non_exist",
                    $" Unmap nonexistent mapping: iommufd={IommufdFd} ioas={IoasId} iova=0x{iova:x} size=0x{requested:x} (-1)");
            return 0;
        }
        if (Env.Trace.Enabled)
            Env.Trace.Emit("iommufd_backend_unmap_dma",
                $" iommufd={IommufdFd} ioas={IoasId} iova=0x{iova:x} size=0x{requested:x} ({Ret(err)})");
        return -(int)err;
    }

    static IoasMapFlags Flags(bool readOnly) =>
        IoasMapFlags.Readable | IoasMapFlags.FixedIova | (readOnly ? IoasMapFlags.None : IoasMapFlags.Writeable);

    /// <summary>What ioctl() returned, as QEMU passes it to the trace: 0 or -1.</summary>
    static int Ret(Errno err) => err == Errno.Ok ? 0 : -1;
}
