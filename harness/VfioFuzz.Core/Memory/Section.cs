namespace VfioFuzz.Memory;

/// <summary>
/// A MemoryRegionSection: one FlatRange of the flattened view. Two sections are the same
/// FlatRange when region, address, size, offset and readonly all match; that is the identity
/// memory_region_transaction_commit uses to decide between region_del/region_add and nop.
/// </summary>
public readonly record struct Section(MemoryRegion Mr, ulong Gpa, UInt128 Size, ulong OffsetInRegion, bool ReadOnly)
{
    /// <summary>Exclusive end, in 128 bits as QEMU computes it (a section may end at 2^64).</summary>
    public UInt128 End => (UInt128)Gpa + Size;

    public bool Contains(ulong gpa) => gpa >= Gpa && gpa < End;

    /// <summary>A stable, readable key: used to attribute mappings to sections in findings.</summary>
    public string Key => $"{Mr.Name}@0x{Gpa:x}+0x{Size:x}";

    public override string ToString() => Key;
}
