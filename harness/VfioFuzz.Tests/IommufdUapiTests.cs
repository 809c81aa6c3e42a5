using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VfioFuzz.Iommufd;
using VfioFuzz.Iommufd.Uapi;
using VfioFuzz.Machine;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The uAPI structs have the kernel's layout (sizes and offsets from
/// ../shared/design/lab/layout.md, offsetof on the 6.12.117 header) and the request numbers
/// the lab kernel printed.</summary>
public class IommufdUapiTests
{
    public static TheoryData<Type, string, int> Offsets() => new()
    {
        { typeof(IommuDestroy), nameof(IommuDestroy.Id), 4 },
        { typeof(IommuIoasAlloc), nameof(IommuIoasAlloc.Flags), 4 },
        { typeof(IommuIoasAlloc), nameof(IommuIoasAlloc.OutIoasId), 8 },
        { typeof(IommuIovaRange), nameof(IommuIovaRange.Last), 8 },
        { typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.IoasId), 4 },
        { typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.NumIovas), 8 },
        { typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.Reserved), 12 },
        { typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.AllowedIovas), 16 },
        { typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.OutIovaAlignment), 24 },
        { typeof(IommuIoasMap), nameof(IommuIoasMap.Flags), 4 },
        { typeof(IommuIoasMap), nameof(IommuIoasMap.IoasId), 8 },
        { typeof(IommuIoasMap), nameof(IommuIoasMap.Reserved), 12 },
        { typeof(IommuIoasMap), nameof(IommuIoasMap.UserVa), 16 },
        { typeof(IommuIoasMap), nameof(IommuIoasMap.Length), 24 },
        { typeof(IommuIoasMap), nameof(IommuIoasMap.Iova), 32 },
        { typeof(IommuIoasMapFile), nameof(IommuIoasMapFile.Fd), 12 },
        { typeof(IommuIoasMapFile), nameof(IommuIoasMapFile.Start), 16 },
        { typeof(IommuIoasMapFile), nameof(IommuIoasMapFile.Length), 24 },
        { typeof(IommuIoasMapFile), nameof(IommuIoasMapFile.Iova), 32 },
        { typeof(IommuIoasUnmap), nameof(IommuIoasUnmap.IoasId), 4 },
        { typeof(IommuIoasUnmap), nameof(IommuIoasUnmap.Iova), 8 },
        { typeof(IommuIoasUnmap), nameof(IommuIoasUnmap.Length), 16 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.Op), 4 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.Id), 8 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.AddReservedStart), 16 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.AddReservedLength), 24 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.MockDomainOutHwptId), 20 },
        // offsetof on 6.12.117's drivers/iommu/iommufd/iommufd_test.h, compiled with gcc here.
        { typeof(IommuTestCmd), nameof(IommuTestCmd.MockDomainDevFlags), 28 },
        { typeof(IommuVfioIoas), nameof(IommuVfioIoas.IoasId), 4 },
        { typeof(IommuVfioIoas), nameof(IommuVfioIoas.Op), 8 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.CheckMapIova), 16 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.CheckMapLength), 24 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.CheckMapUptr), 32 },
        { typeof(IommuTestCmd), nameof(IommuTestCmd.Last), 64 },
    };

    [Theory]
    [MemberData(nameof(Offsets))]
    public void Field_is_at_the_kernels_offset(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void Structs_have_the_kernels_sizes()
    {
        Assert.Equal(8, Unsafe.SizeOf<IommuDestroy>());
        Assert.Equal(12, Unsafe.SizeOf<IommuIoasAlloc>());
        Assert.Equal(12, Unsafe.SizeOf<IommuVfioIoas>());
        Assert.Equal(16, Unsafe.SizeOf<IommuIovaRange>());
        Assert.Equal(32, Unsafe.SizeOf<IommuIoasIovaRanges>());
        Assert.Equal(40, Unsafe.SizeOf<IommuIoasMap>());
        Assert.Equal(40, Unsafe.SizeOf<IommuIoasMapFile>());
        Assert.Equal(24, Unsafe.SizeOf<IommuIoasUnmap>());
        Assert.Equal(72, Unsafe.SizeOf<IommuTestCmd>());
    }

    [Fact]
    public void Request_numbers_are_the_kernels()
    {
        // "== ioctl numbers: DESTROY=0x3b80 IOAS_ALLOC=0x3b81 ... TEST_CMD=0x3ba0" from the lab kernel.
        Assert.Equal(0x3b80, IommufdIoctl.Destroy);
        Assert.Equal(0x3b81, IommufdIoctl.IoasAlloc);
        Assert.Equal(0x3b84, IommufdIoctl.IoasIovaRanges);
        Assert.Equal(0x3b85, IommufdIoctl.IoasMap);
        Assert.Equal(0x3b86, IommufdIoctl.IoasUnmap);
        Assert.Equal(0x3b8f, IommufdIoctl.IoasMapFile);
        Assert.Equal(0x3ba0, IommufdIoctl.TestCmd);
    }

    [Fact]
    public unsafe void An_ioctl_argument_goes_through_the_watchdogs_own_memory_and_comes_back()
    {
        // FIONREAD on a pipe writes the bytes waiting into the argument: the answer must reach
        // the caller's struct although the kernel wrote it into the watchdog's copy.
        int* fds = stackalloc int[2];
        Assert.Equal(0, Tmds.Linux.LibC.pipe(fds));
        try
        {
            byte* five = stackalloc byte[5];
            Assert.Equal(5, (int)Tmds.Linux.LibC.write(fds[1], five, 5));
            using var watchdog = new IoctlWatchdog(TimeSpan.FromSeconds(10));
            int waiting = -1;
            const int FIONREAD = 0x541b;
            Assert.Equal((0, 0), watchdog.Ioctl("FIONREAD", fds[0], FIONREAD, &waiting));
            Assert.Equal(5, waiting);
        }
        finally
        {
            Tmds.Linux.LibC.close(fds[0]);
            Tmds.Linux.LibC.close(fds[1]);
        }
    }

    [Fact]
    public void A_machine_without_iommufd_gets_one_line_that_says_what_to_do()
    {
        if (File.Exists(IommufdIoas.Device)) return;   // a machine with the device: nothing to show here
        var e = Assert.Throws<IommufdUnavailableException>(() => new IommufdIoas(new HostMemory(), TimeSpan.FromSeconds(1)));
        Assert.Contains("/dev/iommu does not exist", e.Message);
        Assert.Contains("harness/lab/run", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void The_watchdog_hand_off_returns_each_calls_own_result_across_spinning_and_parking()
    {
        using var watchdog = new IoctlWatchdog(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 50_000; i++)
        {
            // Every 1000th call comes after a pause long enough for both sides to park.
            if (i % 1000 == 999) Thread.Sleep(2);
            int expected = i;
            Assert.Equal((expected, 0), watchdog.Run("call", () => expected));
        }
    }

    [Fact]
    public void A_call_that_does_not_return_becomes_a_timeout_and_the_next_call_fails_fast()
    {
        using var watchdog = new IoctlWatchdog(TimeSpan.FromMilliseconds(100));
        Assert.Equal((0, 0), watchdog.Run("quick", () => 0));
        using var release = new ManualResetEventSlim();
        Assert.Throws<IoctlTimeoutException>(() => watchdog.Run("IOMMU_IOAS_UNMAP", () => { release.Wait(); return 0; }));
        var again = Assert.Throws<IoctlTimeoutException>(() => watchdog.Run("IOMMU_IOAS_MAP", () => 0));
        Assert.Contains("still blocked", again.Message);
        release.Set();
    }
}
