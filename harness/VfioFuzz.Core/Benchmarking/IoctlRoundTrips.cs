using System.Diagnostics;
using Tmds.Linux;
using VfioFuzz.Iommufd;
using VfioFuzz.Iommufd.Uapi;
using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.Benchmarking;

/// <summary>
/// The real backend's cost per call, measured as IOMMU_IOAS_MAP + IOMMU_IOAS_UNMAP pairs of
/// one 64 KiB area at a fixed IOVA, against a mock domain when the kernel has
/// CONFIG_IOMMUFD_TEST (so each map pins and installs pages, as with a device attached), else
/// against a bare IOAS. harness/lab/ioctl-loop.c does exactly the same calls in C: the
/// physical limit these are compared with.
/// </summary>
public static unsafe class IoctlRoundTrips
{
    public const ulong Iova = 0x1000_0000;
    public const ulong Length = 64 << 10;

    /// <summary>Straight Tmds.LibC ioctl calls from C#: the P/Invoke path alone.</summary>
    public static (double PairsPerSecond, bool MockDomain) Direct(int pairs)
    {
        int fd = RealHostMemory.Open(IommufdIoas.Device);
        if (fd < 0) throw new IommufdUnavailableException($"{IommufdIoas.Device}: open failed with errno {LibC.errno}");
        void* buffer = LibC.mmap(null, (size_t)Length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_POPULATE, -1, 0);
        try
        {
            var alloc = new IommuIoasAlloc { Size = (uint)sizeof(IommuIoasAlloc) };
            if (LibC.ioctl(fd, IommufdIoctl.IoasAlloc, &alloc) < 0) throw new IommufdUnavailableException($"IOMMU_IOAS_ALLOC failed: errno {LibC.errno}");
            var mock = new IommuTestCmd { Size = (uint)sizeof(IommuTestCmd), Op = IommuTestCmd.OpMockDomain, Id = alloc.OutIoasId };
            bool mockDomain = LibC.ioctl(fd, IommufdIoctl.TestCmd, &mock) == 0;
            var map = new IommuIoasMap
            {
                Size = (uint)sizeof(IommuIoasMap), IoasId = alloc.OutIoasId, UserVa = (ulong)buffer, Length = Length, Iova = Iova,
                Flags = (uint)(IoasMapFlags.Readable | IoasMapFlags.Writeable | IoasMapFlags.FixedIova),
            };
            var unmap = new IommuIoasUnmap { Size = (uint)sizeof(IommuIoasUnmap), IoasId = alloc.OutIoasId, Iova = Iova, Length = Length };
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < pairs; i++)
            {
                if (LibC.ioctl(fd, IommufdIoctl.IoasMap, &map) < 0) throw new IOException($"IOMMU_IOAS_MAP failed: errno {LibC.errno}");
                unmap.Length = Length;
                if (LibC.ioctl(fd, IommufdIoctl.IoasUnmap, &unmap) < 0) throw new IOException($"IOMMU_IOAS_UNMAP failed: errno {LibC.errno}");
            }
            return (pairs / clock.Elapsed.TotalSeconds, mockDomain);
        }
        finally
        {
            LibC.munmap(buffer, (size_t)Length);
            LibC.close(fd);   // frees the IOAS and the mock domain
        }
    }

    /// <summary>The harness's own backend, as a run uses it: IommufdIoas with its watchdog
    /// thread hand-off and its shadow of the areas.</summary>
    public static (double PairsPerSecond, bool MockDomain) Harness(int pairs)
    {
        var host = new HostMemory();
        var ram = new MemoryRegion("bench", RegionKind.Ram, Length, RegionRole.GuestRam, Owner: null);
        host.Allocate(ram, KernelFlavor.NoDmabuf);
        bool mockDomain = true;
        IommufdIoas ioas;
        try { ioas = new IommufdIoas(host, TimeSpan.FromSeconds(10), MockDomain.Selftest); }
        catch (IommufdUnavailableException) when (File.Exists(IommufdIoas.Device))
        {
            mockDomain = false;   // no CONFIG_IOMMUFD_TEST: a bare IOAS, as Direct falls back to
            ioas = new IommufdIoas(host, TimeSpan.FromSeconds(10));
        }
        using (ioas)
        {
            ulong va = host[ram].Va;
            var flags = IoasMapFlags.Readable | IoasMapFlags.Writeable | IoasMapFlags.FixedIova;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < pairs; i++)
            {
                var mapped = ioas.Map(Iova, Length, va, flags);
                if (mapped != Errno.Ok) throw new IOException($"IOMMU_IOAS_MAP failed: {mapped}");
                ulong length = Length;
                var unmapped = ioas.Unmap(Iova, ref length);
                if (unmapped != Errno.Ok) throw new IOException($"IOMMU_IOAS_UNMAP failed: {unmapped}");
            }
            return (pairs / clock.Elapsed.TotalSeconds, mockDomain);
        }
    }
}
