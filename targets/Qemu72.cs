using VfioFuzz.Listener;
using VfioFuzz.Memory;
using VfioFuzz.Targets.Model;
using VfioFuzz.Type1;

namespace VfioFuzz.Targets;

/// <summary>
/// QEMU 7.2 (Debian 12's qemu-system 7.2+dfsg-7+deb12u18, the nested QEMU of the real-QEMU
/// lab; Debian applies QEMU's stable-7.2 diffs up to 7.2.22, none of which touches
/// hw/vfio/common.c): the
/// listener of hw/vfio/common.c over its type1 container, the only container 7.2 has. Modelled
/// from 7.2's behaviour (its source read as Debian's source package), where it differs from
/// upstream 11.0's listener:
/// <list type="bullet">
/// <item>no identity IOTLB entry on region_del while dirty tracking is on (11.0 added it): the
/// unmap of a writable RAM section during migration reads no dirty bits first;</item>
/// <item>its messages: the unaligned-section error names the callback
/// (vfio_listener_region_add/_del), skipped sections trace vfio_listener_region_add_skip /
/// _del_skip, a failed map of device memory is reported every time as "vfio_dma_map(...)";</item>
/// <item>its container (<see cref="Qemu72Container"/>): no unmap-all, the overflow workaround,
/// "VFIO_MAP_DMA failed" / "VFIO_UNMAP_DMA failed" on every failed call.</item>
/// </list>
/// Not modelled: memory_region_iommu_set_page_size_mask before an IOMMU notifier registers,
/// the host DMA window list (for type1 one window covering the whole 64-bit space, so its
/// checks never refuse), TPM CRB's known-safe misalignment, the RamDiscard discard's own
/// message. It runs on the type1 container whatever a run asks for.
/// </summary>
public sealed class Qemu72 : VfioListener
{
    public override TargetInfo Info { get; } = new(
        "qemu-7.2", "stable-7.2", [],
        "QEMU 7.2 as Debian 12 ships it: the pre-iommufd listener in hw/vfio/common.c over the type1 container.",
        TargetKind.Upstream, "Debian 12 qemu 7.2+dfsg-7+deb12u18 (7.2.0 with the stable diffs to 7.2.22 and Debian's patches, none touching hw/vfio/common.c): read for behaviour; the lab's nested QEMU",
        OnlyContainer: ContainerKind.Type1);

    protected override LegacyContainer CreateLegacyContainer(ListenerEnvironment env, IType1Iommu type1) => new Qemu72Container(env, type1);

    protected override string UnalignedReporter(string caller) => $"vfio_listener_{caller}";

    protected override string SkipEvent(string caller) => $"vfio_listener_{caller}_skip";

    protected override string DmaMapName => "vfio_dma_map";
    protected override string DmaUnmapName => "vfio_dma_unmap";

    /// <summary>7.2 reports every failure (error_report_err), not once.</summary>
    protected override void ReportRamDeviceMapFailure(in Section s, string err) => Env.Trace.Stderr(err);

    /// <summary>Before 11.0 region_del passes no IOTLB entry: no dirty-bit read before the unmap.</summary>
    protected override bool SyncsDirtyOnDel(in Section s) => false;
}
