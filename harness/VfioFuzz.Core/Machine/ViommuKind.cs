namespace VfioFuzz.Machine;

/// <summary>
/// Which of QEMU's vIOMMUs sits in front of the profile's devices, as far as the VFIO listener
/// can tell: whether it accepts the MAP notifier vfio registers for an IOMMU section, and
/// whether its IOMMU region is in the device's address space from boot.
/// </summary>
public enum ViommuKind
{
    /// <summary>A shadowing vIOMMU that accepts MAP notifiers (virtio-iommu, or VT-d with
    /// caching-mode) and that the guest switches on and off: the `viommu` op.</summary>
    Shadowing,

    /// <summary>QEMU's emulated SMMUv3 without accel: its IOMMU region is the device address
    /// space's root from boot (hw/arm/smmu-common.c smmu_find_add_as), and its
    /// notify_flag_changed refuses a MAP notifier ("device %02x.%02x.%x requires iommu MAP
    /// notifier which is not currently supported", -EINVAL; hw/arm/smmuv3.c, read in 7.2), so
    /// vfio's registration fails during the listener's first replay.</summary>
    EmulatedSmmuv3,
}
