using System.Collections.Immutable;
using VfioFuzz.Machine;

namespace VfioFuzz.Programs;

/// <summary>
/// The total decoder: any byte string is a legal program. Each op is an opcode byte and up to
/// three argument bytes (missing bytes read as zero); handles are chosen modulo the live set
/// (a plugged region for unmap, an initializing device for init-done, a live section for an
/// ATS access), tracked by running the ops on a World of the profile as they are decoded, as
/// syzkaller resolves resources. An op with no legal handle is dropped.
/// </summary>
public static class ProgramDecoder
{
    public const int MaxOps = 64;
    const int OpBytes = 4;

    /// <summary>The longest input that still matters: bytes past it are never decoded.</summary>
    public const int MaxInputBytes = MaxOps * OpBytes;

    public static FuzzProgram Decode(ReadOnlySpan<byte> data, Profile profile)
    {
        var world = new World(profile);
        var ops = ImmutableArray.CreateBuilder<Op>();
        for (int at = 0; at < data.Length && ops.Count < MaxOps; at += OpBytes)
        {
            var op = DecodeOp(world, At(data, at), At(data, at + 1), At(data, at + 2), At(data, at + 3));
            if (op is null) continue;
            world.Apply(op, IgnoreWorldEvents.Instance);
            ops.Add(op);
        }
        return new FuzzProgram(ops.ToImmutable());
    }

    static byte At(ReadOnlySpan<byte> data, int i) => i < data.Length ? data[i] : (byte)0;

    static Op? DecodeOp(World world, byte code, byte a, byte b, byte c)
    {
        var devices = world.Devices;
        switch (code % 8)
        {
            case 0:
            {
                var free = OpChoices.FreeRegions(world);
                return free.Length == 0 ? null : new MapRegion(free[a % free.Length].Name, OpChoices.HotplugGpa(b));
            }
            case 1:
            {
                var plugged = OpChoices.PluggedRegions(world);
                return plugged.Length == 0 ? null : new UnmapRegion(plugged[a % plugged.Length].Name);
            }
            case 2:
                return new SetCommandMem(devices[a % devices.Count].Id, (b & 1) != 0);
            case 3:
            {
                var dev = devices[a % devices.Count];
                var bar = dev.Bars[b % dev.Bars.Count];
                return new MoveBar(dev.Id, bar.Spec.Index, OpChoices.BarGpa(world, c, bar.Spec.Size));
            }
            case 4:
                return new SystemReset();
            case 5:
                return new DeviceReset(devices[a % devices.Count].Id);
            case 6:
            {
                var waiting = OpChoices.Initializing(world);
                return waiting.Length == 0 ? null : new DeviceInitDone(waiting[a % waiting.Length].Id);
            }
            default:
            {
                var ats = OpChoices.AtsDevices(world);
                var sections = world.View.Sections;
                if (ats.Length == 0 || sections.Count == 0) return null;
                var s = sections[b % sections.Count];
                ulong pages = Math.Max(1, s.Size / world.Profile.HostPageSize);
                ulong gpa = s.Gpa + (c % pages) * world.Profile.HostPageSize;
                return new AtsAccess(ats[a % ats.Length].Id, gpa);
            }
        }
    }
}
