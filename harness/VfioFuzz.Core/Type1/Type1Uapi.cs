using System.Runtime.InteropServices;

namespace VfioFuzz.Type1;

// The VFIO container uAPI the legacy container uses (include/uapi/linux/vfio.h, Linux 6.12):
// request numbers _IO(VFIO_TYPE ';', VFIO_BASE 100 + n), no size encoded; structs with the
// kernel's layout (little-endian, natural alignment; Type1UapiTests checks the sizes and
// offsets). Each struct starts with argsz, which the caller sets to the size it knows.

/// <summary>Request numbers and the constants passed as their integer argument.</summary>
public static class VfioIoctl
{
    const int Type = 0x3b, Base = 100;

    public const int GetApiVersion = Type << 8 | Base + 0;
    public const int CheckExtension = Type << 8 | Base + 1;
    public const int SetIommu = Type << 8 | Base + 2;
    public const int GroupGetStatus = Type << 8 | Base + 3;
    public const int GroupSetContainer = Type << 8 | Base + 4;
    public const int IommuGetInfo = Type << 8 | Base + 12;
    public const int IommuMapDma = Type << 8 | Base + 13;
    public const int IommuUnmapDma = Type << 8 | Base + 14;

    /// <summary>VFIO_API_VERSION: what VFIO_GET_API_VERSION answers.</summary>
    public const int ApiVersion = 0;
    /// <summary>VFIO_TYPE1v2_IOMMU, the type QEMU asks for first.</summary>
    public const int Type1v2Iommu = 3;
    /// <summary>VFIO_UNMAP_ALL: the extension behind VFIO_DMA_UNMAP_FLAG_ALL.</summary>
    public const int UnmapAllExtension = 9;
    /// <summary>VFIO_GROUP_FLAGS_VIABLE: every device of the group is bound to a VFIO driver.</summary>
    public const uint GroupFlagsViable = 1;
    /// <summary>VFIO_IOMMU_INFO_PGSIZES: iova_pgsizes is valid.</summary>
    public const uint InfoPgsizes = 1;
}

[StructLayout(LayoutKind.Sequential)]
public struct VfioGroupStatus
{
    public uint Argsz;
    public uint Flags;
}

/// <summary>struct vfio_iommu_type1_info (without its capability chain).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VfioIommuType1Info
{
    public uint Argsz;
    public uint Flags;
    public ulong IovaPgsizes;
    public uint CapOffset;
    public uint Pad;
}

[StructLayout(LayoutKind.Sequential)]
public struct VfioIommuType1DmaMap
{
    public uint Argsz;
    public uint Flags;
    public ulong Vaddr;
    public ulong Iova;
    public ulong Size;
}

/// <summary>struct vfio_iommu_type1_dma_unmap (without the dirty bitmap that may follow).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VfioIommuType1DmaUnmap
{
    public uint Argsz;
    public uint Flags;
    public ulong Iova;
    public ulong Size;
}
