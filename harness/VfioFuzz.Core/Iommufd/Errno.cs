namespace VfioFuzz.Iommufd;

/// <summary>The Linux errno values the iommufd and type1 boundaries answer with (x86_64/arm64 numbering).</summary>
public enum Errno
{
    Ok = 0,
    ENOENT = 2,
    EBADF = 9,
    ENOMEM = 12,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    EINVAL = 22,
    ENOTTY = 25,
    ENOSPC = 28,
    EOVERFLOW = 75,
    EOPNOTSUPP = 95,
}

[Flags]
public enum IoasMapFlags : uint
{
    None = 0,
    FixedIova = 1,
    Writeable = 2,
    Readable = 4,
}

/// <summary>One area of an IOAS: what IOMMU_IOAS_MAP or MAP_FILE created.</summary>
public readonly record struct IoasArea(ulong Iova, ulong Length, bool Writeable)
{
    public UInt128 End => (UInt128)Iova + Length;
}
