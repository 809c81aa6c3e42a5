using Tmds.Linux;
using VfioFuzz.Iommufd;
using VfioFuzz.Machine;

namespace VfioFuzz.Type1;

/// <summary>
/// The real type1 container: /dev/vfio/vfio with one VFIO group attached, set to
/// VFIO_TYPE1v2_IOMMU, as QEMU's legacy container sets one up (VFIO_GET_API_VERSION,
/// VFIO_GROUP_GET_STATUS viable, VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU, VFIO_IOMMU_GET_INFO,
/// VFIO_CHECK_EXTENSION(VFIO_UNMAP_ALL)); maps and unmaps with VFIO_IOMMU_MAP_DMA/UNMAP_DMA on
/// real memory (<see cref="RealHostMemory"/>), every ioctl under an <see cref="IoctlWatchdog"/>.
/// On Dispose it unmaps everything and closes both fds. The kernel has no "list mappings"
/// call: the entries are a shadow kept from its own answers (v2 removes all or nothing).
/// The group decides whether there is an IOMMU domain: an mdev's group has none (the kernel
/// pins nothing), a device behind an IOMMU has one. <see cref="OnIommufdCompat"/> is the same
/// uAPI served by iommufd instead of vfio_iommu_type1.
/// </summary>
public sealed unsafe class VfioType1Container : IType1Iommu, IDisposable
{
    public const string ContainerDevice = "/dev/vfio/vfio";

    readonly int _container, _group;
    readonly IommufdIoas? _compat;
    readonly IoctlWatchdog _watchdog;
    readonly RealHostMemory _memory;
    readonly IoasAreaSet _shadow = new();
    bool _disposed;

    /// <param name="groupPath">/dev/vfio/N of a viable group no other process holds.</param>
    public VfioType1Container(string groupPath, HostMemory host, TimeSpan watchdog) : this(groupPath, null, host, watchdog) { }

    /// <summary>A type1 container served by iommufd's VFIO compatibility layer on
    /// <paramref name="ioas"/>'s own fd (vfio_compat.c: what a kernel with
    /// CONFIG_IOMMUFD_VFIO_CONTAINER serves as /dev/vfio/vfio), with no VFIO group: the IOAS
    /// (and the mock domain attached to it) is the container's. The lab kernel has the legacy
    /// container (CONFIG_VFIO_CONTAINER, for real QEMU on the mdev), and the two options
    /// exclude each other, so the compat layer is reached through /dev/iommu, as the kernel's
    /// selftest reaches it. The container owns <paramref name="ioas"/> from here.</summary>
    public static VfioType1Container OnIommufdCompat(IommufdIoas ioas, HostMemory host, TimeSpan watchdog) => new(null, ioas, host, watchdog);

    VfioType1Container(string? groupPath, IommufdIoas? compat, HostMemory host, TimeSpan watchdog)
    {
        _watchdog = new IoctlWatchdog(watchdog);
        _compat = compat;
        try { _container = compat?.ServeVfioCompat() ?? Open(ContainerDevice); }
        catch
        {
            _watchdog.Dispose();
            compat?.Dispose();
            throw;
        }
        _group = -1;
        try
        {
            if (groupPath is not null)
            {
                _group = Open(groupPath);
                var status = new VfioGroupStatus { Argsz = (uint)sizeof(VfioGroupStatus) };
                Check("VFIO_GROUP_GET_STATUS", Ioctl("VFIO_GROUP_GET_STATUS", _group, VfioIoctl.GroupGetStatus, &status));
                if ((status.Flags & VfioIoctl.GroupFlagsViable) == 0)
                    throw new IommufdUnavailableException($"{groupPath}: the group is not viable (bind every device in it to a VFIO driver)");
            }
            int version = Ioctl("VFIO_GET_API_VERSION", _container, VfioIoctl.GetApiVersion, 0);
            if (version != VfioIoctl.ApiVersion) throw new IommufdUnavailableException($"{ContainerDevice}: VFIO API version {version}, expected {VfioIoctl.ApiVersion}");
            if (_group >= 0)
            {
                int container = _container;
                Check("VFIO_GROUP_SET_CONTAINER", Ioctl("VFIO_GROUP_SET_CONTAINER", _group, VfioIoctl.GroupSetContainer, &container));
            }
            if (Ioctl("VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)", _container, VfioIoctl.CheckExtension, VfioIoctl.Type1v2Iommu) <= 0)
                throw new IommufdUnavailableException($"{ContainerDevice}: no type1v2 IOMMU (CONFIG_VFIO_IOMMU_TYPE1)");
            Check("VFIO_SET_IOMMU", Ioctl("VFIO_SET_IOMMU", _container, VfioIoctl.SetIommu, VfioIoctl.Type1v2Iommu));
            var info = new VfioIommuType1Info { Argsz = (uint)sizeof(VfioIommuType1Info) };
            Check("VFIO_IOMMU_GET_INFO", Ioctl("VFIO_IOMMU_GET_INFO", _container, VfioIoctl.IommuGetInfo, &info));
            // QEMU takes the host page when the kernel gives no page sizes.
            IovaPgsizes = (info.Flags & VfioIoctl.InfoPgsizes) != 0 ? info.IovaPgsizes : (ulong)Environment.SystemPageSize;
            UnmapAllSupported = Ioctl("VFIO_CHECK_EXTENSION(VFIO_UNMAP_ALL)", _container, VfioIoctl.CheckExtension, VfioIoctl.UnmapAllExtension) > 0;
            // On the compat layer the IOAS already holds real memory for this layout: one copy
            // (two held twice the pinned RAM, and the lab guest ran out of memory).
            _memory = compat?.Memory ?? new RealHostMemory(host);
        }
        catch
        {
            if (_group >= 0) LibC.close(_group);
            if (compat is null) LibC.close(_container);
            else compat.Dispose();
            _watchdog.Dispose();
            throw;
        }
    }

    public ulong IovaPgsizes { get; }

    public bool UnmapAllSupported { get; }

    public Errno MapDma(ulong iova, ulong size, ulong vaddr, Type1MapFlags flags)
    {
        var cmd = new VfioIommuType1DmaMap { Argsz = (uint)sizeof(VfioIommuType1DmaMap), Flags = (uint)flags, Vaddr = _memory.TranslateVa(vaddr), Iova = iova, Size = size };
        var result = Result(Ioctl("VFIO_IOMMU_MAP_DMA", _container, VfioIoctl.IommuMapDma, &cmd));
        if (result == Errno.Ok) _shadow.Insert(iova, size, (flags & Type1MapFlags.Write) != 0);
        return result;
    }

    public Errno UnmapDma(ulong iova, ref ulong size, Type1UnmapFlags flags)
    {
        ulong asked = size;
        var cmd = new VfioIommuType1DmaUnmap { Argsz = (uint)sizeof(VfioIommuType1DmaUnmap), Flags = (uint)flags, Iova = iova, Size = asked };
        var result = Result(Ioctl("VFIO_IOMMU_UNMAP_DMA", _container, VfioIoctl.IommuUnmapDma, &cmd));
        // The kernel writes back what it unmapped (0 on failure); v2 removed every entry inside
        // the range or, on failure, none.
        size = result == Errno.Ok ? cmd.Size : 0;
        if ((flags & Type1UnmapFlags.All) != 0) { if (result == Errno.Ok) _shadow.Clear(); }
        // iommufd's compat layer unmaps as IOMMU_IOAS_UNMAP does: area by area, stopping with
        // ENOENT at one that sticks out, the ones before it already gone.
        else if (_compat is not null) _shadow.Follow(iova, asked, result);
        else if (result == Errno.Ok) _shadow.Unmap(iova, (UInt128)iova + asked);
        return result;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => _shadow.AreasIn(start, end);

    int Ioctl<T>(string name, int fd, int request, T* arg) where T : unmanaged
    {
        var (result, errno) = _watchdog.Ioctl(name, fd, request, arg);
        return result < 0 ? -errno : result;
    }

    int Ioctl(string name, int fd, int request, int arg) =>
        Ioctl(name, () => LibC.ioctl(fd, request, (void*)(nint)arg));

    int Ioctl(string name, Func<int> call)
    {
        var (result, errno) = _watchdog.Run(name, call);
        return result < 0 ? -errno : result;
    }

    static Errno Result(int ret) => ret < 0 ? (Errno)(-ret) : Errno.Ok;

    static int Open(string path)
    {
        int fd = RealHostMemory.Open(path);
        if (fd >= 0) return fd;
        int e = LibC.errno;
        throw new IommufdUnavailableException(e switch
        {
            2 => $"{path} does not exist: no VFIO type1 container here (CONFIG_VFIO_CONTAINER, a device bound to a VFIO driver); use the simulator (--container type1) or the lab (harness/lab/run realqemu)",
            13 or 1 => $"{path}: permission denied: run as root or give your user access",
            16 => $"{path}: busy: another process holds the group",
            _ => $"{path}: open failed with errno {e}",
        });
    }

    static void Check(string what, int ret)
    {
        if (ret < 0) throw new IommufdUnavailableException($"{what} failed: {(Errno)(-ret)}");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            var all = new VfioIommuType1DmaUnmap { Argsz = (uint)sizeof(VfioIommuType1DmaUnmap), Flags = (uint)Type1UnmapFlags.All };
            if (UnmapAllSupported) Ioctl("VFIO_IOMMU_UNMAP_DMA", _container, VfioIoctl.IommuUnmapDma, &all);
        }
        catch (IoctlTimeoutException) { }   // a stuck fd: closing it is all that is left
        _watchdog.Dispose();
        if (_compat is null) _memory.Dispose();   // else the IOAS's, disposed with it below
        if (_group >= 0) LibC.close(_group);
        if (_compat is null) LibC.close(_container);
        else _compat.Dispose();   // unmaps the IOAS, destroys it, closes the fd
    }
}
