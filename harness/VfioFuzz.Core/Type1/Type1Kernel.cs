namespace VfioFuzz.Type1;

/// <summary>
/// Which kernel code answers a type1 container's ioctls: drivers/vfio/vfio_iommu_type1.c (the
/// legacy container, CONFIG_VFIO_CONTAINER), or iommufd's VFIO compatibility layer
/// (drivers/iommu/iommufd/vfio_compat.c, served as /dev/vfio/vfio by
/// CONFIG_IOMMUFD_VFIO_CONTAINER), which answers the same uAPI with iommufd's own rules.
/// </summary>
public enum Type1Kernel
{
    VfioIommuType1,
    IommufdCompat,
}

public static class Type1Kernels
{
    public static string Name(this Type1Kernel kernel) => kernel == Type1Kernel.IommufdCompat ? "iommufd-compat" : "vfio_iommu_type1";

    public static bool TryParse(string text, out Type1Kernel kernel)
    {
        kernel = text == "iommufd-compat" ? Type1Kernel.IommufdCompat : Type1Kernel.VfioIommuType1;
        return text is "iommufd-compat" or "vfio_iommu_type1";
    }
}
