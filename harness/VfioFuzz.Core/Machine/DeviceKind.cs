namespace VfioFuzz.Machine;

public enum DeviceKind
{
    /// <summary>A plain NIC: BAR mmaps are P2P targets only, no ATS.</summary>
    Nic,
    /// <summary>An nvgrace-gpu style coherent GPU: the NVLink aperture is a fake BAR (usemem).</summary>
    CoherentGpu,
    /// <summary>A CXL Type-2 accelerator: its DPA (HDM) is exposed as a device memory region.</summary>
    CxlType2,
}

public enum DeviceState { Running, Resetting, Initializing }

public static class DeviceNames
{
    public static string Name(this DeviceKind k) => k switch
    {
        DeviceKind.Nic => "nic",
        DeviceKind.CoherentGpu => "coherent-gpu",
        DeviceKind.CxlType2 => "cxl-type2",
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    public static string Name(this DeviceState s) => s switch
    {
        DeviceState.Running => "running",
        DeviceState.Resetting => "resetting",
        DeviceState.Initializing => "initializing",
        _ => throw new ArgumentOutOfRangeException(nameof(s)),
    };
}
