namespace VfioFuzz.Listener;

/// <summary>Which kernel interface a listener's container drives: iommufd (an IOAS on
/// /dev/iommu, QEMU's iommufd backend) or the legacy VFIO type1 container (/dev/vfio/vfio,
/// QEMU's legacy container, the only one QEMU 7.2 has).</summary>
public enum ContainerKind { Iommufd, Type1 }

/// <summary>`--container`: one interface, or both (every program runs on each and a verdict
/// that differs between them is a container-divergence finding).</summary>
public enum ContainerChoice { Iommufd, Type1, Both }

public static class ContainerNames
{
    /// <summary>How the CLI tells the fuzz driver process the campaign's container.</summary>
    public const string Variable = "VFIO_FUZZ_CONTAINER";

    public static string Name(this ContainerKind kind) => kind == ContainerKind.Type1 ? "type1" : "iommufd";

    public static string Name(this ContainerChoice choice) => choice switch
    {
        ContainerChoice.Type1 => "type1",
        ContainerChoice.Both => "both",
        _ => "iommufd",
    };

    public static bool TryParse(string text, out ContainerChoice choice)
    {
        choice = text switch { "iommufd" => ContainerChoice.Iommufd, "type1" => ContainerChoice.Type1, "both" => ContainerChoice.Both, _ => (ContainerChoice)(-1) };
        return (int)choice >= 0;
    }
}
