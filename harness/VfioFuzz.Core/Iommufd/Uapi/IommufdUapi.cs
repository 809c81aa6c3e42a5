using System.Runtime.InteropServices;

namespace VfioFuzz.Iommufd.Uapi;

// The iommufd uAPI (include/uapi/linux/iommufd.h) and the selftest command
// (drivers/iommu/iommufd/iommufd_test.h), as structs with the kernel's layout: little-endian,
// natural alignment, every field at the offset ../shared/design/lab/layout.md lists for
// 6.12.117 (IommufdUapiTests checks each one). Each starts with `size`, which the caller sets
// to the struct size it knows.

/// <summary>Request numbers: _IO(';', nr), no size encoded.</summary>
public static class IommufdIoctl
{
    const int Type = 0x3b;

    public const int Destroy = Type << 8 | 0x80;
    public const int IoasAlloc = Type << 8 | 0x81;
    public const int IoasAllowIovas = Type << 8 | 0x82;
    public const int IoasCopy = Type << 8 | 0x83;
    public const int IoasIovaRanges = Type << 8 | 0x84;
    public const int IoasMap = Type << 8 | 0x85;
    public const int IoasUnmap = Type << 8 | 0x86;
    public const int Option = Type << 8 | 0x87;
    public const int VfioIoas = Type << 8 | 0x88;
    public const int HwptAlloc = Type << 8 | 0x89;
    public const int IoasMapFile = Type << 8 | 0x8f;
    /// <summary>CONFIG_IOMMUFD_TEST only: mock domains, reserved ranges, access objects.</summary>
    public const int TestCmd = Type << 8 | 0xa0;
}

[StructLayout(LayoutKind.Sequential)]
public struct IommuDestroy
{
    public uint Size;
    public uint Id;
}

/// <summary>struct iommu_vfio_ioas (IOMMU_VFIO_IOAS): which IOAS the VFIO compatibility
/// ioctls on this fd use (offsetof on 6.12.117's header, compiled with gcc here: 12 bytes,
/// ioas_id at 4, op at 8).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct IommuVfioIoas
{
    public const ushort OpSet = 1;

    public uint Size;
    public uint IoasId;
    public ushort Op;
    public ushort Reserved;
}

[StructLayout(LayoutKind.Sequential)]
public struct IommuIoasAlloc
{
    public uint Size;
    public uint Flags;
    public uint OutIoasId;
}

[StructLayout(LayoutKind.Sequential)]
public struct IommuIovaRange
{
    public ulong Start;
    public ulong Last;
}

[StructLayout(LayoutKind.Sequential)]
public struct IommuIoasIovaRanges
{
    public uint Size;
    public uint IoasId;
    /// <summary>In: entries at AllowedIovas; out: how many the IOAS has (EMSGSIZE when more).</summary>
    public uint NumIovas;
    public uint Reserved;
    public ulong AllowedIovas;
    public ulong OutIovaAlignment;
}

[StructLayout(LayoutKind.Sequential)]
public struct IommuIoasMap
{
    public uint Size;
    public uint Flags;
    public uint IoasId;
    public uint Reserved;
    public ulong UserVa;
    public ulong Length;
    public ulong Iova;
}

[StructLayout(LayoutKind.Sequential)]
public struct IommuIoasMapFile
{
    public uint Size;
    public uint Flags;
    public uint IoasId;
    public int Fd;
    public ulong Start;
    public ulong Length;
    public ulong Iova;
}

[StructLayout(LayoutKind.Sequential)]
public struct IommuIoasUnmap
{
    public uint Size;
    public uint IoasId;
    public ulong Iova;
    /// <summary>In: the range; out: the bytes unmapped.</summary>
    public ulong Length;
}

/// <summary>struct iommu_test_cmd: a 16-byte header, a union of per-op arguments at 16, and
/// `last` at 64; 72 bytes with the tail padding.</summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
public struct IommuTestCmd
{
    public const uint OpAddReserved = 1;
    public const uint OpMockDomain = 2;
    public const uint OpMdCheckMap = 3;
    public const uint OpMockDomainFlags = 12;
    /// <summary>Not in any kernel tree: the lab kernel's own mock-device flag
    /// (harness/lab/mock-wide-aperture.patch), whose domains have the whole 64-bit aperture.</summary>
    public const uint DeviceFlagWideAperture = 1u << 30;

    [FieldOffset(0)] public uint Size;
    [FieldOffset(4)] public uint Op;
    [FieldOffset(8)] public uint Id;
    [FieldOffset(12)] public uint Reserved;
    /// <summary>add_reserved.start / mock_domain.out_stdev_id (low half).</summary>
    [FieldOffset(16)] public ulong AddReservedStart;
    [FieldOffset(16)] public uint MockDomainOutStdevId;
    [FieldOffset(20)] public uint MockDomainOutHwptId;
    [FieldOffset(24)] public ulong AddReservedLength;
    [FieldOffset(24)] public uint MockDomainOutIdevId;
    /// <summary>mock_domain_flags.dev_flags (IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS).</summary>
    [FieldOffset(28)] public uint MockDomainDevFlags;
    /// <summary>check_map (IOMMU_TEST_OP_MD_CHECK_MAP, id = the mock domain's hwpt): whether
    /// [iova, iova+length) maps, in the domain itself, the pages behind uptr.</summary>
    [FieldOffset(16)] public ulong CheckMapIova;
    [FieldOffset(24)] public ulong CheckMapLength;
    [FieldOffset(32)] public ulong CheckMapUptr;
    [FieldOffset(64)] public uint Last;
}
