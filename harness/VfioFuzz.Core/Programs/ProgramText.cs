namespace VfioFuzz.Programs;

/// <summary>One-line descriptions of ops for traces and progress output.</summary>
public static class ProgramText
{
    public static string Describe(Op op) => op switch
    {
        MapRegion m => $"map-region {m.Region} at 0x{m.Gpa:x}",
        UnmapRegion u => $"unmap-region {u.Region}",
        SetCommandMem c => $"command-mem {c.Device} {(c.On ? "on" : "off")}",
        MoveBar b => $"move-bar {b.Device} BAR{b.Bar} to 0x{b.Gpa:x}",
        DeviceReset r => $"device-reset {r.Device}",
        DeviceFlr f => $"device-flr {f.Device}",
        HdmCommit c => $"hdm-commit {c.Device} at 0x{c.Gpa:x}",
        HdmDecommit d => $"hdm-decommit {d.Device}",
        DeviceInitDone i => $"device-init-done {i.Device}",
        AtsAccess a => $"ats-access {a.Device} 0x{a.Gpa:x}",
        FailNth f => $"fail-nth {f.N} {f.Errno}",
        DeviceUnplug u => $"device-unplug {u.Device}",
        DeviceReplug r => $"device-replug {r.Device}",
        SetPam p => $"pam segment {p.Segment} mode {p.Mode}",
        _ => op.Name,
    };
}
