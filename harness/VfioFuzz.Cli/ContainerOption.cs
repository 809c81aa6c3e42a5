using System.CommandLine;
using VfioFuzz.Listener;

namespace VfioFuzz.Cli;

/// <summary>`--container`: which kernel interface the listener's container drives.</summary>
static class ContainerOption
{
    /// <param name="entries">For commands that run corpus entries: without the option each
    /// entry runs on its own container (its `container:` field, iommufd when it has none).</param>
    public static Option<string?> Create(bool entries = false) => new("--container")
    {
        Description = "iommufd (QEMU's iommufd backend), type1 (QEMU's legacy VFIO type1 container over a simulated type1 kernel), " +
                      "or both (each program on each; a verdict that differs is a container-divergence finding); default: " +
                      (entries ? "each entry's own (iommufd unless it says)" : "iommufd"),
    };

    /// <summary>The choice (null when the option was not given and <paramref name="fallback"/>
    /// is null), or a one-line error naming the accepted values.</summary>
    public static bool TryParse(string? text, ContainerChoice? fallback, out ContainerChoice? choice, out string? error)
    {
        choice = fallback;
        error = null;
        if (text is null) return true;
        if (ContainerNames.TryParse(text, out var parsed)) choice = parsed;
        else error = $"unknown container '{text}' (iommufd, type1, both)";
        return error is null;
    }
}
