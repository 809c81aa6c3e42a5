namespace VfioFuzz.Iommufd;

/// <summary>
/// What stands for the device QEMU attaches before mapping, on a CONFIG_IOMMUFD_TEST kernel.
/// Without a domain the kernel pins nothing until a domain or an access needs the pages, so a
/// map of memory that cannot be pinned (a VM_PFNMAP BAR mmap) succeeds; with one it fails
/// with EFAULT at map time, as in QEMU's process.
/// </summary>
public enum MockDomain
{
    /// <summary>A bare IOAS: no aperture, lazy pinning.</summary>
    None,
    /// <summary>The selftest's mock domain: aperture 16 MiB - 2 GiB (MOCK_APERTURE_START/LAST).</summary>
    Selftest,
    /// <summary>The lab kernel's mock domain with the whole 64-bit aperture (our flag, from
    /// harness/lab/mock-wide-aperture.patch), where a VM's guest-physical addresses map.</summary>
    WholeAperture,
}
