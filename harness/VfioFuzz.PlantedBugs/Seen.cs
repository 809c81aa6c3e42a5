using VfioFuzz.Machine;
using VfioFuzz.Memory;

namespace VfioFuzz.PlantedBugs;

/// <summary>What a planted bug's chain can see: one thing the listener was told.</summary>
public enum SeenKind { Add, Del, DeviceState, DirtyLog, IotlbMap, Populate }

/// <summary>
/// One thing the listener was told, reduced to what a chain step tests: the section's region
/// (name, role, owning device), GPA and whether it is read-only (On) for add, del and a
/// virtio-mem populate; the device and its new state; whether dirty logging started (On); for
/// an IOTLB MAP, the IOVA and the section the entry translates to.
/// </summary>
public readonly record struct Seen(SeenKind Kind, string Region, RegionRole Role, string? Device, ulong Gpa, DeviceState State = default, bool On = false)
{
    public static Seen Of(SeenKind kind, in Section s) => new(kind, s.Mr.Name, s.Mr.Role, s.Mr.Owner, s.Gpa, On: s.ReadOnly);

    public static Seen StateOf(PciDevice device) => new(SeenKind.DeviceState, "", default, device.Id, 0, device.State);

    public bool Is(SeenKind kind, string region) => Kind == kind && Region == region;

    public bool Entered(string device, DeviceState state) => Kind == SeenKind.DeviceState && Device == device && State == state;
}
