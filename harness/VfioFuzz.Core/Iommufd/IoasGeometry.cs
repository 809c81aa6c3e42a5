using VfioFuzz.Machine;

namespace VfioFuzz.Iommufd;

/// <summary>
/// What IOMMU_IOAS_IOVA_RANGES tells about an IOAS: out_iova_alignment and the usable IOVA
/// ranges (the attached domain's aperture minus reserved regions such as the MSI window).
/// A fixed map must lie inside one range and be aligned, or the kernel answers EINVAL.
/// </summary>
public sealed record IoasGeometry(ulong Alignment, IReadOnlyList<(ulong Start, ulong Last)> Ranges)
{
    /// <summary>An IOAS with a profile's IOMMU attached: its page size, the whole 64-bit
    /// space minus the profile's reserved windows.</summary>
    public static IoasGeometry Of(Profile profile)
    {
        var ranges = new List<(ulong, ulong)>();
        ulong next = 0;
        bool open = true;
        foreach (var (start, last) in profile.ReservedIovas.OrderBy(r => r.Start))
        {
            if (start > next) ranges.Add((next, start - 1));
            if (last == ulong.MaxValue) { open = false; break; }
            next = last + 1;
        }
        if (open) ranges.Add((next, ulong.MaxValue));
        return new IoasGeometry(profile.IommuPageSize, ranges);
    }

    /// <summary>Whether [iova, last] lies inside one usable range.</summary>
    public bool Usable(ulong iova, ulong last)
    {
        // A loop, not Any: asked on every map of the fuzzing hot path.
        for (int i = 0; i < Ranges.Count; i++)
            if (iova >= Ranges[i].Start && last <= Ranges[i].Last) return true;
        return false;
    }
}
