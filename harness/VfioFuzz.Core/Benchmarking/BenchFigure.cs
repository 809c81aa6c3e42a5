using VfioFuzz.Reports;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Benchmarking;

/// <summary>
/// One figure of `vfio-fuzz bench`: a value, the baseline it is divided by (measured in the
/// same run), and the target it is held to, if any. <paramref name="Met"/> is null when the
/// figure has no target or could not be measured.
/// </summary>
public sealed record BenchFigure(string Name, string Value, string Baseline, double? Ratio, string Target, bool? Met, string Note = "")
{
    public string Verdict => Met switch { true => "met", false => "MISSED", null => "-" };

    /// <summary>The figures as YAML (schema vfio-fuzz/bench/1), written atomically.</summary>
    public static void Save(string path, string command, IEnumerable<BenchFigure> figures)
    {
        var list = new YamlSequenceNode();
        foreach (var f in figures)
        {
            var node = new YamlMappingNode { { "name", f.Name }, { "value", f.Value }, { "baseline", f.Baseline } };
            if (f.Ratio is { } r) node.Add("ratio", r.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
            node.Add("target", f.Target);
            node.Add("verdict", f.Verdict);
            if (f.Note.Length > 0) node.Add("note", f.Note);
            list.Add(node);
        }
        var root = new YamlMappingNode
        {
            { "schema", "vfio-fuzz/bench/1" },
            { "command", command },
            { "machine", $"{Environment.ProcessorCount} cpus, {Environment.OSVersion}" },
            { "when", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ") },
            { "figures", list },
        };
        AtomicFile.WriteAllText(path, YamlFields.Save(root));
    }
}
