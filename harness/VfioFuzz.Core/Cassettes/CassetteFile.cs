using System.Collections.Immutable;
using System.Globalization;
using VfioFuzz.Iommufd;
using VfioFuzz.Reports;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Cassettes;

/// <summary>Reads and writes cassettes as YAML, with file:line errors for a bad one.</summary>
public static class CassetteFile
{
    public static Cassette Load(string path)
    {
        string text = InputFile.ReadAllText(path);
        var f = new YamlFields(path);
        var root = f.Mapping(YamlFields.Parse(path, text), "a cassette");
        f.OnlyKeys(root, "a cassette", "schema", "kernel", "machine", "backend", "recorded", "sessions");
        var schema = f.Required(root, "schema", "a cassette");
        if (f.Scalar(schema, "schema") != Cassette.Schema) throw f.Error(schema, $"schema must be {Cassette.Schema}");
        var sessions = ImmutableArray.CreateBuilder<CassetteSession>();
        foreach (var node in f.Sequence(f.Required(root, "sessions", "a cassette"), "sessions").Children)
            sessions.Add(LoadSession(f, f.Mapping(node, "a session")));
        return new Cassette(path, f.String(root, "kernel", "a cassette"), f.String(root, "machine", "a cassette"),
            f.String(root, "backend", "a cassette"), f.String(root, "recorded", "a cassette"), sessions.ToImmutable());
    }

    static CassetteSession LoadSession(YamlFields f, YamlMappingNode s)
    {
        f.OnlyKeys(s, "a session", "subject", "alignment", "ranges", "calls");
        var ranges = f.Sequence(f.Required(s, "ranges", "a session"), "ranges").Children.Select(r =>
        {
            var m = f.Mapping(r, "a range {start, last}");
            return (f.UInt64(m, "start", "a range"), f.UInt64(m, "last", "a range"));
        }).ToArray();
        var calls = ImmutableArray.CreateBuilder<CassetteCall>();
        foreach (var node in f.Sequence(f.Required(s, "calls", "a session"), "calls").Children)
            calls.Add(LoadCall(f, f.Mapping(node, "a call")));
        return new CassetteSession(f.String(s, "subject", "a session"), new IoasGeometry(f.UInt64(s, "alignment", "a session"), ranges), calls.ToImmutable());
    }

    static CassetteCall LoadCall(YamlFields f, YamlMappingNode c)
    {
        var opNode = f.Required(c, "op", "a call");
        var errnoNode = f.Required(c, "errno", "a call");
        string errnoText = f.Scalar(errnoNode, "errno");
        Errno result = Enum.TryParse<Errno>(errnoText, out var e) ? e
            : int.TryParse(errnoText, CultureInfo.InvariantCulture, out var n) ? (Errno)n
            : throw f.Error(errnoNode, $"'{errnoText}' is not an errno (Ok, ENOENT, ... or a number)");
        IoasMapFlags Flags() => (IoasMapFlags)f.UInt64(c, "flags", "a map call");
        switch (f.Scalar(opNode, "op"))
        {
            case "map":
                f.OnlyKeys(c, "a map call", "op", "iova", "length", "va", "flags", "errno");
                return new MapCallRecord(f.UInt64(c, "iova", "a call"), f.UInt64(c, "length", "a call"), f.UInt64(c, "va", "a call"), Flags(), result);
            case "map-file":
                f.OnlyKeys(c, "a map-file call", "op", "iova", "length", "fd", "start", "flags", "errno");
                return new MapFileCallRecord(f.UInt64(c, "iova", "a call"), f.UInt64(c, "length", "a call"), f.Int32(c, "fd", "a call"), f.UInt64(c, "start", "a call"), Flags(), result);
            case "unmap":
                f.OnlyKeys(c, "an unmap call", "op", "iova", "length", "errno", "unmapped");
                return new UnmapCallRecord(f.UInt64(c, "iova", "a call"), f.UInt64(c, "length", "a call"), result,
                    f.Optional(c, "unmapped") is not null ? f.UInt64(c, "unmapped", "a call") : 0);
            case var other:
                throw f.Error(opNode, $"unknown call '{other}' (map, map-file, unmap)");
        }
    }

    public static void Save(string path, Cassette cassette)
    {
        var sessions = new YamlSequenceNode();
        foreach (var s in cassette.Sessions)
        {
            var calls = new YamlSequenceNode();
            foreach (var call in s.Calls) calls.Add(CallNode(call));
            sessions.Add(new YamlMappingNode
            {
                { "subject", s.Subject },
                { "alignment", YamlFields.Hex(s.Geometry.Alignment) },
                { "ranges", new YamlSequenceNode(s.Geometry.Ranges.Select(r => (YamlNode)Flow(new YamlMappingNode { { "start", YamlFields.Hex(r.Start) }, { "last", YamlFields.Hex(r.Last) } }))) },
                { "calls", calls },
            });
        }
        var root = new YamlMappingNode
        {
            { "schema", Cassette.Schema },
            { "kernel", cassette.Kernel },
            { "machine", cassette.Machine },
            { "backend", cassette.Backend },
            { "recorded", cassette.Recorded },
            { "sessions", sessions },
        };
        AtomicFile.WriteAllText(path, YamlFields.Save(root));
    }

    static YamlMappingNode CallNode(CassetteCall call)
    {
        var node = new YamlMappingNode { { "op", call.Op } };
        switch (call)
        {
            case MapCallRecord m:
                node.Add("iova", YamlFields.Hex(m.Iova)); node.Add("length", YamlFields.Hex(m.Length));
                node.Add("va", YamlFields.Hex(m.UserVa)); node.Add("flags", YamlFields.Hex((ulong)m.Flags));
                break;
            case MapFileCallRecord m:
                node.Add("iova", YamlFields.Hex(m.Iova)); node.Add("length", YamlFields.Hex(m.Length));
                node.Add("fd", m.Fd.ToString(CultureInfo.InvariantCulture)); node.Add("start", YamlFields.Hex(m.Start));
                node.Add("flags", YamlFields.Hex((ulong)m.Flags));
                break;
            case UnmapCallRecord u:
                node.Add("iova", YamlFields.Hex(u.Iova)); node.Add("length", YamlFields.Hex(u.Length));
                if (u.Result == Errno.Ok) node.Add("unmapped", YamlFields.Hex(u.Unmapped));
                break;
        }
        node.Add("errno", Enum.IsDefined(call.Result) ? call.Result.ToString() : ((int)call.Result).ToString(CultureInfo.InvariantCulture));
        return Flow(node);
    }

    static YamlMappingNode Flow(YamlMappingNode node)
    {
        node.Style = YamlDotNet.Core.Events.MappingStyle.Flow;
        return node;
    }
}
