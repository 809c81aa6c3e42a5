namespace VfioFuzz.Memory;

/// <summary>
/// A terminal MemoryRegion as a listener sees it in a section. Immutable; identity is the name,
/// which is unique in a World ("cxl0 BAR2 mmaps[0]", "dimm0").
/// </summary>
/// <param name="Owner">The owning device id, or null. vfio_get_vfio_device(owner) is non-null
/// exactly when Owner is set, since every device in the World is a vfio-pci device.</param>
public sealed record MemoryRegion(string Name, RegionKind Kind, UInt128 Size, RegionRole Role, string? Owner)
{
    public bool IsRam => Kind is RegionKind.Ram or RegionKind.Rom or RegionKind.RamDevice;
    public bool IsRamDevice => Kind == RegionKind.RamDevice;
    public bool IsIommu => Kind == RegionKind.Iommu;
    public bool ReadOnly => Kind == RegionKind.Rom;

    /// <summary>True for device memory whose host mapping is a VM_PFNMAP/VM_IO mmap of a BAR,
    /// which pin_user_pages refuses: IOMMU_IOAS_MAP of it fails with EFAULT.</summary>
    public bool IsPfnMap => Kind == RegionKind.RamDevice && Owner is not null;

    // Sections are hashed and compared on every transaction diff: the hash is computed once,
    // and a World compares a region mostly with itself.
    readonly int _hash = HashCode.Combine(Name, Kind, Size, Role, Owner);

    public override int GetHashCode() => _hash;

    public bool Equals(MemoryRegion? other) =>
        ReferenceEquals(this, other) ||
        (other is not null && _hash == other._hash && Name == other.Name && Kind == other.Kind && Size == other.Size && Role == other.Role && Owner == other.Owner);
}
