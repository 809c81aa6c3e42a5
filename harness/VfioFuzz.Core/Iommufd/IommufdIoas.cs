using Tmds.Linux;
using VfioFuzz.Iommufd.Uapi;
using VfioFuzz.Machine;

namespace VfioFuzz.Iommufd;

/// <summary>Why the real backend cannot start, as one line that says how to get access.</summary>
public class IommufdUnavailableException(string message) : InputException(message);

/// <summary>The device opens, but no mock domain of the kind asked for can be attached.</summary>
public sealed class MockDomainUnavailableException(string message) : IommufdUnavailableException(message);

/// <summary>
/// The real backend: one IOAS on /dev/iommu through Tmds.LibC ioctls. Opens the device,
/// IOMMU_IOAS_ALLOC, reads IOMMU_IOAS_IOVA_RANGES (its alignment is what the listener takes
/// as the IOMMU page), maps with IOMMU_IOAS_MAP / IOMMU_IOAS_MAP_FILE on real memory
/// (<see cref="RealHostMemory"/>), unmaps with IOMMU_IOAS_UNMAP, and on Dispose unmaps
/// everything, destroys the IOAS and closes the fd. Every ioctl runs under an
/// <see cref="IoctlWatchdog"/>. The kernel has no "list areas" call, so the areas are a
/// shadow kept from the kernel's own answers (for the oracles).
/// With a <see cref="MockDomain"/> (CONFIG_IOMMUFD_TEST kernels) a mock domain is attached
/// first, so the IOAS behaves as with a device attached: pinning at map time, an aperture and
/// an alignment; <c>reserved</c> ranges are added with IOMMU_TEST_OP_ADD_RESERVED (the MSI
/// window of an SMMU).
/// </summary>
public sealed unsafe class IommufdIoas : IKernelIoas
{
    public const string Device = "/dev/iommu";

    readonly int _fd;
    readonly uint _ioasId;
    readonly uint? _mockHwptId;
    readonly IoctlWatchdog _watchdog;
    readonly RealHostMemory _memory;
    readonly IoasAreaSet _shadow = new();
    bool _disposed;

    public IommufdIoas(HostMemory host, TimeSpan watchdog, MockDomain domain = MockDomain.None, IReadOnlyList<(ulong Start, ulong Last)>? reserved = null)
    {
        _fd = RealHostMemory.Open(Device);
        if (_fd < 0)
        {
            int e = LibC.errno;
            throw new IommufdUnavailableException(e switch
            {
                2 => $"{Device} does not exist: this kernel has no iommufd (CONFIG_IOMMUFD); use --backend sim, a cassette (--backend replay:FILE), or the kernel lab (harness/lab/run)",
                13 or 1 => $"{Device}: permission denied: run as root or give your user access (e.g. a udev rule setting the group of /dev/iommu)",
                _ => $"{Device}: open failed with errno {e}",
            });
        }
        _watchdog = new IoctlWatchdog(watchdog);
        try
        {
            var alloc = new IommuIoasAlloc { Size = (uint)sizeof(IommuIoasAlloc) };
            Check("IOMMU_IOAS_ALLOC", Ioctl("IOMMU_IOAS_ALLOC", IommufdIoctl.IoasAlloc, &alloc));
            _ioasId = alloc.OutIoasId;
            foreach (var (start, last) in reserved ?? [])
            {
                var cmd = new IommuTestCmd { Size = (uint)sizeof(IommuTestCmd), Op = IommuTestCmd.OpAddReserved, Id = _ioasId, AddReservedStart = start, AddReservedLength = last - start + 1 };
                Check("IOMMU_TEST_OP_ADD_RESERVED", Ioctl("IOMMU_TEST_CMD", IommufdIoctl.TestCmd, &cmd));
            }
            if (domain == MockDomain.Selftest)
            {
                var cmd = new IommuTestCmd { Size = (uint)sizeof(IommuTestCmd), Op = IommuTestCmd.OpMockDomain, Id = _ioasId };
                Check("IOMMU_TEST_OP_MOCK_DOMAIN (needs CONFIG_IOMMUFD_TEST)", Ioctl("IOMMU_TEST_CMD", IommufdIoctl.TestCmd, &cmd));
                _mockHwptId = cmd.MockDomainOutHwptId;
            }
            else if (domain == MockDomain.WholeAperture)
            {
                var cmd = new IommuTestCmd { Size = (uint)sizeof(IommuTestCmd), Op = IommuTestCmd.OpMockDomainFlags, Id = _ioasId, MockDomainDevFlags = IommuTestCmd.DeviceFlagWideAperture };
                var result = Ioctl("IOMMU_TEST_CMD", IommufdIoctl.TestCmd, &cmd);
                if (result == Errno.ENOTTY)
                    throw new MockDomainUnavailableException($"{Device}: this kernel has no CONFIG_IOMMUFD_TEST (IOMMU_TEST_CMD answers ENOTTY), so no mock domain can stand for QEMU's device: use the kernel lab (harness/lab/run)");
                if (result == Errno.EINVAL)
                    throw new MockDomainUnavailableException($"{Device}: this kernel's mock domain has no whole-aperture flag (harness/lab/mock-wide-aperture.patch): use the kernel lab, whose kernel has it (harness/lab/run)");
                Check("IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS", result);
                _mockHwptId = cmd.MockDomainOutHwptId;
            }
            Geometry = ReadGeometry();
            _memory = new RealHostMemory(host);
        }
        catch
        {
            _watchdog.Dispose();
            LibC.close(_fd);
            throw;
        }
    }

    /// <summary>Makes this IOAS the one iommufd's VFIO compatibility layer (vfio_compat.c, what
    /// CONFIG_IOMMUFD_VFIO_CONTAINER serves as /dev/vfio/vfio) uses for the type1 ioctls on this
    /// fd (IOMMU_VFIO_IOAS_SET), as the kernel's selftest does, and returns the fd: a type1
    /// container whose kernel side is iommufd, with no VFIO group needed.</summary>
    internal int ServeVfioCompat()
    {
        var cmd = new IommuVfioIoas { Size = (uint)sizeof(IommuVfioIoas), IoasId = _ioasId, Op = IommuVfioIoas.OpSet };
        Check("IOMMU_VFIO_IOAS (IOMMU_VFIO_IOAS_SET)", Ioctl("IOMMU_VFIO_IOAS", IommufdIoctl.VfioIoas, &cmd));
        return _fd;
    }

    /// <summary>The real memory behind the layout (a compat type1 container maps from it too).</summary>
    internal RealHostMemory Memory => _memory;

    /// <summary>What IOMMU_IOAS_IOVA_RANGES answered.</summary>
    public IoasGeometry Geometry { get; }

    public ulong IovaAlignment => Geometry.Alignment;

    /// <summary>BAR mmaps are anonymous memory because /dev/mem could not be mapped.</summary>
    public bool PfnMapFallback => _memory.PfnMapFallback;

    IoasGeometry ReadGeometry()
    {
        var ranges = new IommuIovaRange[16];
        fixed (IommuIovaRange* r = ranges)
        {
            var cmd = new IommuIoasIovaRanges { Size = (uint)sizeof(IommuIoasIovaRanges), IoasId = _ioasId, NumIovas = (uint)ranges.Length, AllowedIovas = (ulong)r };
            Check("IOMMU_IOAS_IOVA_RANGES", Ioctl("IOMMU_IOAS_IOVA_RANGES", IommufdIoctl.IoasIovaRanges, &cmd));
            return new IoasGeometry(cmd.OutIovaAlignment, ranges.Take((int)cmd.NumIovas).Select(x => (x.Start, x.Last)).ToArray());
        }
    }

    public Errno Map(ulong iova, ulong length, ulong userVa, IoasMapFlags flags) => MapAt(iova, length, _memory.TranslateVa(userVa), flags);

    Errno MapAt(ulong iova, ulong length, ulong realVa, IoasMapFlags flags)
    {
        var cmd = new IommuIoasMap { Size = (uint)sizeof(IommuIoasMap), Flags = (uint)flags, IoasId = _ioasId, UserVa = realVa, Length = length, Iova = iova };
        var result = Ioctl("IOMMU_IOAS_MAP", IommufdIoctl.IoasMap, &cmd);
        if (result == Errno.Ok) _shadow.Insert(cmd.Iova, length, (flags & IoasMapFlags.Writeable) != 0);
        return result;
    }

    public Errno MapFile(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags)
    {
        var cmd = new IommuIoasMapFile { Size = (uint)sizeof(IommuIoasMapFile), Flags = (uint)flags, IoasId = _ioasId, Fd = _memory.TranslateFd(fd), Start = start, Length = length, Iova = iova };
        var result = Ioctl("IOMMU_IOAS_MAP_FILE", IommufdIoctl.IoasMapFile, &cmd);
        if (result == Errno.Ok) _shadow.Insert(cmd.Iova, length, (flags & IoasMapFlags.Writeable) != 0);
        return result;
    }

    /// <summary>A MAP_FILE done the way a kernel without it allows: the file's pages mapped
    /// shared into this process and mapped by address (the same pages pinned).</summary>
    public Errno MapFileByAddress(ulong iova, ulong length, int fd, ulong start, IoasMapFlags flags) =>
        _memory.FileVa(fd, start) is { } va ? MapAt(iova, length, va, flags) : Errno.EBADF;

    public Errno Unmap(ulong iova, ref ulong length)
    {
        var cmd = new IommuIoasUnmap { Size = (uint)sizeof(IommuIoasUnmap), IoasId = _ioasId, Iova = iova, Length = length };
        var result = Ioctl("IOMMU_IOAS_UNMAP", IommufdIoctl.IoasUnmap, &cmd);
        _shadow.Follow(iova, length, result);
        if (result == Errno.Ok) length = cmd.Length;
        return result;
    }

    public IReadOnlyList<IoasArea> AreasIn(ulong start, UInt128 end) => _shadow.AreasIn(start, end);

    /// <summary>Whether the attached mock domain itself maps the IOVA page at
    /// <paramref name="iova"/> to the memory at <paramref name="userVa"/>
    /// (IOMMU_TEST_OP_MD_CHECK_MAP): the kernel's real state, where the shadow only follows its
    /// answers. Null without a mock domain.</summary>
    public bool? DomainMaps(ulong iova, ulong userVa)
    {
        if (_mockHwptId is not { } hwpt) return null;
        var cmd = new IommuTestCmd
        {
            Size = (uint)sizeof(IommuTestCmd), Op = IommuTestCmd.OpMdCheckMap, Id = hwpt,
            CheckMapIova = iova, CheckMapLength = Geometry.Alignment, CheckMapUptr = _memory.TranslateVa(userVa),
        };
        return Ioctl("IOMMU_TEST_CMD", IommufdIoctl.TestCmd, &cmd) == Errno.Ok;
    }

    Errno Ioctl<T>(string name, int request, T* arg) where T : unmanaged
    {
        var (result, errno) = _watchdog.Ioctl(name, _fd, request, arg);
        return result < 0 ? (Errno)errno : Errno.Ok;
    }

    static void Check(string what, Errno result)
    {
        if (result != Errno.Ok) throw new IommufdUnavailableException($"{Device}: {what} failed: {result}");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            var unmap = new IommuIoasUnmap { Size = (uint)sizeof(IommuIoasUnmap), IoasId = _ioasId, Iova = 0, Length = ulong.MaxValue };
            Ioctl("IOMMU_IOAS_UNMAP", IommufdIoctl.IoasUnmap, &unmap);
            var destroy = new IommuDestroy { Size = (uint)sizeof(IommuDestroy), Id = _ioasId };
            Ioctl("IOMMU_DESTROY", IommufdIoctl.Destroy, &destroy);
        }
        catch (IoctlTimeoutException) { }   // a stuck fd: closing it is all that is left
        _watchdog.Dispose();
        _memory.Dispose();
        LibC.close(_fd);   // releases whatever is left (the mock domain, a stuck IOAS)
    }
}
