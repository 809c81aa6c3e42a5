namespace VfioFuzz.Memory;

/// <summary>
/// The address arithmetic QEMU's listener applies to a section before any policy: the
/// host-page phase check (valid_section A3), trimming to host pages (get_section_iova_range),
/// and the ram_device IOMMU-minimum-page test. Policy (skip flags, patches) is not here: it
/// lives in the targets. The missing-Stage-2 oracle uses the same arithmetic to know which
/// part of a section any correct listener could map at all.
/// </summary>
public readonly record struct HostPageGeometry(ulong HostPageSize, ulong IommuPageSize)
{
    ulong HostMask => ~(HostPageSize - 1);

    /// <summary>valid_section A3: GPA and backing offset must share their offset within a host page.</summary>
    public bool PhaseMatches(in Section s) => (s.Gpa & ~HostMask) == (s.OffsetInRegion & ~HostMask);

    /// <summary>get_section_iova_range: round the start up and the end down to host pages.
    /// Returns false when nothing page-sized is left.</summary>
    public bool TryIovaRange(in Section s, out ulong iova, out UInt128 llsize)
    {
        UInt128 start = ((UInt128)s.Gpa + HostPageSize - 1) & HostMask128;
        UInt128 llend = s.End & HostMask128;
        if (start >= llend)
        {
            iova = 0; llsize = 0;
            return false;
        }
        iova = (ulong)start;
        llsize = llend - start;
        return true;
    }

    UInt128 HostMask128 => ~((UInt128)HostPageSize - 1);

    /// <summary>The ram_device test: iova and size must be multiples of the smallest IOMMU page
    /// (1 &lt;&lt; ctz64(pgsizes)); the same test decides try_unmap on region_del.</summary>
    public bool IommuAligned(ulong iova, UInt128 llsize)
    {
        ulong mask = IommuPageSize - 1;
        return (iova & mask) == 0 && (llsize & mask) == 0;
    }

    /// <summary>The part of a section a listener can put in the IOAS, or false when none can:
    /// what the platform can translate regardless of which patch runs.</summary>
    public bool TryMappableRange(in Section s, out ulong iova, out ulong length)
    {
        iova = 0; length = 0;
        if (!s.Mr.IsRam || !PhaseMatches(s) || (s.Gpa >> 63) != 0) return false;
        if (!TryIovaRange(s, out iova, out var llsize)) return false;
        if (s.Mr.IsRamDevice && !IommuAligned(iova, llsize)) return false;
        length = (ulong)llsize;
        return true;
    }
}
