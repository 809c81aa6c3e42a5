using System.Collections.Immutable;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Programs;

/// <summary>
/// The readable YAML form of a program: a list whose items are `op-name` (no arguments) or
/// `op-name: {arg: value, ...}`. Addresses are written in hex. Reading it back gives an equal
/// program; every mistake is reported with the file and line.
/// </summary>
public static class ProgramYaml
{
    public static YamlSequenceNode ToYaml(FuzzProgram program)
    {
        var seq = new YamlSequenceNode();
        foreach (var op in program.Ops) seq.Add(ToYaml(op));
        return seq;
    }

    static YamlNode ToYaml(Op op)
    {
        var args = op switch
        {
            MapRegion m => Args(("region", m.Region), ("gpa", YamlFields.Hex(m.Gpa))),
            UnmapRegion u => Args(("region", u.Region)),
            SetCommandMem c => Args(("device", c.Device), ("on", c.On ? "true" : "false")),
            MoveBar b => Args(("device", b.Device), ("bar", b.Bar.ToString()), ("gpa", YamlFields.Hex(b.Gpa))),
            DeviceReset r => Args(("device", r.Device)),
            DeviceFlr r => Args(("device", r.Device)),
            HdmCommit c => Args(("device", c.Device), ("gpa", YamlFields.Hex(c.Gpa))),
            HdmDecommit d => Args(("device", d.Device)),
            DeviceInitDone i => Args(("device", i.Device)),
            AtsAccess a => Args(("device", a.Device), ("gpa", YamlFields.Hex(a.Gpa))),
            SetViommu v => Args(("on", v.On ? "true" : "false")),
            IotlbMap m => Args(("iova", YamlFields.Hex(m.Iova)), ("gpa", YamlFields.Hex(m.Gpa)), ("size", YamlFields.Hex(m.Size)), ("writable", m.Writable ? "true" : "false")),
            IotlbUnmap u => Args(("iova", YamlFields.Hex(u.Iova))),
            SetReadOnly r => Args(("region", r.Region), ("on", r.On ? "true" : "false")),
            SetPam p => Args(("segment", p.Segment.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("mode", p.Mode.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            BarSizing b => Args(("device", b.Device), ("bar", b.Bar.ToString())),
            VmemPlug p => Args(("block", p.Block.ToString())),
            SetDirtyTracking d => Args(("on", d.On ? "true" : "false")),
            FailNth f => Args(("n", f.N.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("errno", f.Errno.ToString())),
            VmemUnplug u => Args(("block", u.Block.ToString())),
            IntxInterrupt i => Args(("device", i.Device)),
            IntxMmapTimer t => Args(("device", t.Device)),
            DeviceUnplug u => Args(("device", u.Device)),
            DeviceReplug r => Args(("device", r.Device)),
            _ => null,
        };
        if (args is null) return new YamlScalarNode(op.Name);
        return new YamlMappingNode { { op.Name, args } };
    }

    static YamlMappingNode Args(params (string Key, string Value)[] pairs)
    {
        var map = new YamlMappingNode { Style = YamlDotNet.Core.Events.MappingStyle.Flow };
        foreach (var (k, v) in pairs) map.Add(k, v);
        return map;
    }

    public static FuzzProgram FromYaml(YamlNode node, YamlFields f)
    {
        var ops = ImmutableArray.CreateBuilder<Op>();
        foreach (var item in f.Sequence(node, "program").Children) ops.Add(OpFromYaml(item, f));
        return new FuzzProgram(ops.ToImmutable());
    }

    static Op OpFromYaml(YamlNode item, YamlFields f)
    {
        if (item is YamlScalarNode { Value: "system-reset" }) return new SystemReset();
        if (item is not YamlMappingNode { Children.Count: 1 } map)
            throw f.Error(item, "each op must be `name` or `name: {args}`");
        var (keyNode, argsNode) = map.Children.First();
        string name = f.Scalar(keyNode, "op name");
        var args = f.Mapping(argsNode, $"arguments of {name}");
        string what = $"op {name}";
        Op op = name switch
        {
            "map-region" => new MapRegion(f.String(args, "region", what), f.UInt64(args, "gpa", what)),
            "unmap-region" => new UnmapRegion(f.String(args, "region", what)),
            "command-mem" => new SetCommandMem(f.String(args, "device", what), f.Bool(args, "on", what)),
            "move-bar" => new MoveBar(f.String(args, "device", what), f.Int32(args, "bar", what), f.UInt64(args, "gpa", what)),
            "device-reset" => new DeviceReset(f.String(args, "device", what)),
            "device-flr" => new DeviceFlr(f.String(args, "device", what)),
            "hdm-commit" => new HdmCommit(f.String(args, "device", what), f.UInt64(args, "gpa", what)),
            "hdm-decommit" => new HdmDecommit(f.String(args, "device", what)),
            "device-init-done" => new DeviceInitDone(f.String(args, "device", what)),
            "ats-access" => new AtsAccess(f.String(args, "device", what), f.UInt64(args, "gpa", what)),
            "viommu" => new SetViommu(f.Bool(args, "on", what)),
            "iotlb-map" => new IotlbMap(f.UInt64(args, "iova", what), f.UInt64(args, "gpa", what), f.UInt64(args, "size", what), f.Bool(args, "writable", what)),
            "iotlb-unmap" => new IotlbUnmap(f.UInt64(args, "iova", what)),
            "dirty-tracking" => new SetDirtyTracking(f.Bool(args, "on", what)),
            "fail-nth" => new FailNth(f.Int32(args, "n", what) is >= 1 and var n ? n : throw f.Error(args, "fail-nth: n counts from 1 (the next map)"),
                Enum.TryParse<VfioFuzz.Iommufd.Errno>(f.String(args, "errno", what), out var e) && FailNth.Injectable.Contains(e)
                    ? e : throw f.Error(args, $"fail-nth: errno must be one of {string.Join(", ", FailNth.Injectable)}")),
            "vmem-plug" => new VmemPlug(f.Int32(args, "block", what)),
            "vmem-unplug" => new VmemUnplug(f.Int32(args, "block", what)),
            "bar-sizing" => new BarSizing(f.String(args, "device", what), f.Int32(args, "bar", what)),
            "readonly" => new SetReadOnly(f.String(args, "region", what), f.Bool(args, "on", what)),
            "pam" => new SetPam(f.Int32(args, "segment", what), f.Int32(args, "mode", what)),
            "intx" => new IntxInterrupt(f.String(args, "device", what)),
            "intx-mmap-timer" => new IntxMmapTimer(f.String(args, "device", what)),
            "device-unplug" => new DeviceUnplug(f.String(args, "device", what)),
            "device-replug" => new DeviceReplug(f.String(args, "device", what)),
            _ => throw f.Error(keyNode, $"unknown op '{name}' (known: map-region, unmap-region, command-mem, move-bar, system-reset, device-reset, device-flr, device-init-done, device-unplug, device-replug, hdm-commit, hdm-decommit, ats-access, viommu, iotlb-map, iotlb-unmap, intx, intx-mmap-timer, readonly, pam, bar-sizing, vmem-plug, vmem-unplug, dirty-tracking, fail-nth)"),
        };
        f.OnlyKeys(args, what, op switch
        {
            MapRegion => ["region", "gpa"],
            UnmapRegion => ["region"],
            SetCommandMem => ["device", "on"],
            MoveBar => ["device", "bar", "gpa"],
            AtsAccess or HdmCommit => ["device", "gpa"],
            SetViommu or SetDirtyTracking => ["on"],
            IotlbMap => ["iova", "gpa", "size", "writable"],
            IotlbUnmap => ["iova"],
            SetReadOnly => ["region", "on"],
            SetPam => ["segment", "mode"],
            BarSizing => ["device", "bar"],
            VmemPlug or VmemUnplug => ["block"],
            FailNth => ["n", "errno"],
            _ => ["device"],
        });
        return op;
    }
}
