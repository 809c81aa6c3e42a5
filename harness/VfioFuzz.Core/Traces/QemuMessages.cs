using System.Text.RegularExpressions;

namespace VfioFuzz.Traces;

/// <summary>
/// QEMU's own error and warning lines about DMA mapping, read as evidence: each is a backend
/// call with its errno. A line is recognised with whatever QEMU or the pasting put before it:
/// a leading debug number, an ISO timestamp, the program name (`qemu-system-x86_64:`,
/// `qemu-kvm:`, `qemu-system-aarch64-iommufd:`, `qemu:` for hw_error) and error_report's
/// `warning: ` for warn_report. The formats, as QEMU's sources print them across versions:
/// <list type="bullet">
/// <item>hw/vfio/common.c, later listener.c, region_add and vfio_iommu_map_notify:
///   `vfio_dma_map(%p, 0x%"HWADDR_PRIx", 0x%"HWADDR_PRIx", %p) = %d (%m)` (earlier
///   `0x%016lx, 0x%lx`, later `(%s)` with strerror), renamed `vfio_container_dma_map(...)` when
///   the container was abstracted for iommufd (QEMU 8.2).</item>
/// <item>the same files, region_del and the notifier's unmap: `vfio_dma_unmap(%p, 0x%..., 0x%...) = %d (%s)`,
///   later `vfio_container_dma_unmap(...)`.</item>
/// <item>backends/iommufd.c iommufd_backend_map_dma: `IOMMU_IOAS_MAP failed: %m`, and for
///   EFAULT warn_report `IOMMU_IOAS_MAP failed: %m, PCI BAR?`; iommufd_backend_unmap_dma:
///   `IOMMU_IOAS_UNMAP failed: %s` (strerror), later `%m`.</item>
/// <item>hw/vfio/common.c, later container.c (legacy type1): `VFIO_MAP_DMA failed: %s` and
///   `VFIO_UNMAP_DMA failed: %s`; before those, `VFIO_MAP_DMA: %d` and `VFIO_UNMAP_DMA: %d`
///   with -errno.</item>
/// <item>hw_error (hw/core/cpu or system/cpus): `qemu: hardware error: vfio: DMA mapping failed, unable to continue`.</item>
/// </list>
/// Each becomes a line with a synthetic event name (`qemu_error_*`) so the reader, the joiner
/// of wrapped lines and the importer treat it like a trace event.
/// </summary>
public static partial class QemuMessages
{
    public const string DmaMap = "qemu_error_dma_map";
    public const string DmaUnmap = "qemu_error_dma_unmap";
    public const string IoasMap = "qemu_error_ioas_map";
    public const string IoasUnmap = "qemu_error_ioas_unmap";
    public const string Type1Map = "qemu_error_type1_map";
    public const string Type1Unmap = "qemu_error_type1_unmap";
    public const string HardwareError = "qemu_error_hw_error";

    /// <summary>The synthetic event name and the message text when <paramref name="body"/>
    /// starts one of the messages (the text may still be cut by a wrap: the reader joins).</summary>
    public static bool TryStart(string body, out string name, out string text)
    {
        name = text = "";
        var prefix = Prefix().Match(body);
        string rest = body[prefix.Length..];
        foreach (var (start, n) in Starts)
            if (rest.StartsWith(start, StringComparison.Ordinal))
            {
                (name, text) = (n, rest);
                return true;
            }
        return false;
    }

    static readonly (string Start, string Name)[] Starts =
    [
        ("vfio_dma_map(", DmaMap), ("vfio_container_dma_map(", DmaMap),
        ("vfio_dma_unmap(", DmaUnmap), ("vfio_container_dma_unmap(", DmaUnmap),
        ("IOMMU_IOAS_MAP failed:", IoasMap), ("IOMMU_IOAS_UNMAP failed:", IoasUnmap),
        ("VFIO_MAP_DMA failed:", Type1Map), ("VFIO_MAP_DMA:", Type1Map),
        ("VFIO_UNMAP_DMA failed:", Type1Unmap), ("VFIO_UNMAP_DMA:", Type1Unmap),
        ("hardware error:", HardwareError),
    ];

    /// <summary>A debug counter, an ISO timestamp, a QEMU program name (with its pid), the
    /// warn_report prefix: each optional, in this order.</summary>
    [GeneratedRegex(@"^(?:\d+\s+)?(?:\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?:?\s+)?(?:qemu[\w.+-]*(?:\[\d+\])?:\s+)?(?:warning:\s+)?")]
    private static partial Regex Prefix();
}
