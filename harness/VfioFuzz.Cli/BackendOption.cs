using System.CommandLine;
using VfioFuzz.Iommufd;
using VfioFuzz.Machine;

namespace VfioFuzz.Cli;

/// <summary>`--backend`: where the listener's DMA map/unmap calls go.</summary>
static class BackendOption
{
    public static Option<string> Create(string extra = "") => new("--backend")
    {
        Description = $"sim (the simulated IOAS, default) or iommufd (the real /dev/iommu through ioctls){extra}",
        DefaultValueFactory = _ => "sim",
    };

    /// <summary>The backend factory for sim (null) or iommufd; an error for anything else.
    /// For iommufd the device is opened once up front, so a missing /dev/iommu or EPERM is
    /// one clear error before anything runs.</summary>
    public static bool TryFactory(string spec, out Func<Profile, HostMemory, IIoas>? factory, out string? error)
    {
        factory = null;
        error = null;
        switch (spec)
        {
            case "sim":
                return true;
            case "iommufd":
                try { new IommufdIoas(new HostMemory(), Watchdog).Dispose(); }
                catch (IommufdUnavailableException e) { error = e.Message; return false; }
                factory = (_, host) => new IommufdIoas(host, Watchdog);
                return true;
            default:
                error = $"unknown backend '{spec}' (sim, iommufd{(spec.StartsWith("replay:") ? "; replay:CASSETTE is for `run`" : "")})";
                return false;
        }
    }

    /// <summary>How long one ioctl may take before it is a timeout finding.</summary>
    public static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(5);
}
