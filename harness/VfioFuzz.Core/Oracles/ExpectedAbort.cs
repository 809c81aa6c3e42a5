using VfioFuzz.Memory;

namespace VfioFuzz.Oracles;

/// <summary>
/// Why QEMU cannot go on from here: a failure it does not survive (a RAM section's map failed,
/// a vIOMMU refused the notifier). A target that aborts then does what QEMU does; one that
/// carries on is a finding, <c>unexpected-errno:ignored-map-failure:&lt;role&gt;</c>.
/// </summary>
/// <param name="Why">What failed, for the trace and the finding.</param>
/// <param name="Role">The role of the section whose region_add failed (the signature's last part).</param>
/// <param name="Consequence">What a VM that carried on would lack, for the finding's explanation.</param>
public sealed record ExpectedAbort(string Why, RegionRole Role, string Consequence)
{
    /// <summary>A failed map of a RAM section in region_add.</summary>
    public static ExpectedAbort RamMapFailed(in Section s, string why) => new(why, s.Mr.Role,
        "QEMU cannot run a VM whose RAM is missing from the IOMMU: a failed map of a RAM section fails the listener's " +
        "registration before initialization and is a hw_error (\"vfio: DMA mapping failed, unable to continue\") after it. " +
        "This target carried on, so the device's DMA into that RAM faults.");

    /// <summary>A vIOMMU refused the MAP notifier an IOMMU section's region_add registers.</summary>
    public static ExpectedAbort NotifierRefused(in Section s, string refusal) => new(
        $"the vIOMMU refused the MAP notifier for {s.Key} ({refusal})", s.Mr.Role,
        "QEMU cannot shadow a vIOMMU whose notifier it could not register: region_add's fail: label fails the listener's " +
        "registration before initialization and is a hw_error after it. This target carried on, so the guest's IOTLB " +
        "mappings never reach the IOAS and the device's DMA through them faults.");
}
