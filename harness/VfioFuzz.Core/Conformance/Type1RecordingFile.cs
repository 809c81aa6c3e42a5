using System.Collections.Immutable;
using System.Globalization;
using VfioFuzz.Iommufd;
using VfioFuzz.Reports;
using VfioFuzz.Type1;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Conformance;

/// <summary>Reads and writes a type1 conformance recording (schema vfio-fuzz/type1-conformance/1)
/// as YAML, with file:line errors for a bad one.</summary>
public static class Type1RecordingFile
{
    public const string Schema = "vfio-fuzz/type1-conformance/1";

    static readonly string[] Fields = ["schema", "kernel", "machine", "container", "served-by", "domain", "pgsizes", "unmap-all", "recorded", "cases"];

    public static Type1Recording Load(string path)
    {
        string text = InputFile.ReadAllText(path);
        var f = new YamlFields(path);
        var root = f.Mapping(YamlFields.Parse(path, text), "a type1 conformance recording");
        f.OnlyKeys(root, "a type1 conformance recording", Fields);
        var schema = f.Required(root, "schema", "a type1 conformance recording");
        if (f.Scalar(schema, "schema") != Schema) throw f.Error(schema, $"schema must be {Schema}");
        var cases = ImmutableArray.CreateBuilder<(string, ImmutableArray<Type1Call>)>();
        foreach (var node in f.Sequence(f.Required(root, "cases", "a type1 conformance recording"), "cases").Children)
        {
            var c = f.Mapping(node, "a case");
            f.OnlyKeys(c, "a case", "case", "calls");
            var calls = ImmutableArray.CreateBuilder<Type1Call>();
            foreach (var callNode in f.Sequence(f.Required(c, "calls", "a case"), "calls").Children)
            {
                var call = f.Mapping(callNode, "a call");
                f.OnlyKeys(call, "a call", "request", "errno", "unmapped");
                var errnoNode = f.Required(call, "errno", "a call");
                string errnoText = f.Scalar(errnoNode, "errno");
                Errno result = Enum.TryParse<Errno>(errnoText, out var e) ? e
                    : int.TryParse(errnoText, CultureInfo.InvariantCulture, out var n) ? (Errno)n
                    : throw f.Error(errnoNode, $"'{errnoText}' is not an errno (Ok, EINVAL, ... or a number)");
                ulong? unmapped = f.Optional(call, "unmapped") is not null ? f.UInt64(call, "unmapped", "a call") : null;
                calls.Add(new Type1Call(f.String(call, "request", "a call"), result, unmapped));
            }
            cases.Add((f.String(c, "case", "a case"), calls.ToImmutable()));
        }
        // served-by came later: a recording without it is of vfio_iommu_type1.
        var servedBy = Type1Kernel.VfioIommuType1;
        if (f.Optional(root, "served-by") is { } servedNode && !Type1Kernels.TryParse(f.Scalar(servedNode, "served-by"), out servedBy))
            throw f.Error(servedNode, "served-by must be vfio_iommu_type1 or iommufd-compat");
        return new Type1Recording(path, f.String(root, "kernel", "a recording"), f.String(root, "machine", "a recording"),
            f.String(root, "container", "a recording"), f.Bool(root, "domain", "a recording"), f.UInt64(root, "pgsizes", "a recording"),
            f.Bool(root, "unmap-all", "a recording"), f.String(root, "recorded", "a recording"), cases.ToImmutable(), servedBy);
    }

    public static void Save(string path, Type1Recording r)
    {
        var cases = new YamlSequenceNode();
        foreach (var (name, calls) in r.Cases)
        {
            var list = new YamlSequenceNode();
            foreach (var call in calls)
            {
                var node = new YamlMappingNode { { "request", call.Request }, { "errno", Enum.IsDefined(call.Result) ? call.Result.ToString() : ((int)call.Result).ToString(CultureInfo.InvariantCulture) } };
                if (call.Unmapped is { } n) node.Add("unmapped", YamlFields.Hex(n));
                node.Style = YamlDotNet.Core.Events.MappingStyle.Flow;
                list.Add(node);
            }
            cases.Add(new YamlMappingNode { { "case", name }, { "calls", list } });
        }
        var root = new YamlMappingNode
        {
            { "schema", Schema },
            { "kernel", r.Kernel },
            { "machine", r.Machine },
            { "container", r.Container },
            { "served-by", r.ServedBy.Name() },
            { "domain", r.Domain ? "true" : "false" },
            { "pgsizes", YamlFields.Hex(r.Pgsizes) },
            { "unmap-all", r.UnmapAll ? "true" : "false" },
            { "recorded", r.Recorded },
            { "cases", cases },
        };
        AtomicFile.WriteAllText(path, YamlFields.Save(root));
    }
}
