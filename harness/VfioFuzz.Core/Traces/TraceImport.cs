using VfioFuzz.Reports;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Traces;

/// <summary>An imported recording: the events read out, what the checks found in it.</summary>
public sealed record ImportedTrace(TraceReadResult Read, IReadOnlyList<TraceEvent> Events, IReadOnlyList<RecordingFinding> Findings)
{
    public const string Schema = "vfio-fuzz/trace/1";

    public static ImportedTrace From(string path)
    {
        var read = TraceReader.Read(path);
        var events = read.Events.Select(TraceArgs.Read).OfType<TraceEvent>().ToArray();
        return new ImportedTrace(read, events, RecordingChecks.Run(events));
    }

    public IReadOnlyDictionary<string, int> ByKind =>
        Read.Events.GroupBy(e => e.Name).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>corpus/traces/NAME.yaml: the source, the counts, the findings with their lines,
    /// and every event (line, name, arguments as QEMU printed them), written atomically.</summary>
    public void Save(string path)
    {
        var kinds = new YamlMappingNode();
        foreach (var (k, n) in ByKind) kinds.Add(k, n.ToString());
        var findings = new YamlSequenceNode(Findings.Select(f => (YamlNode)new YamlMappingNode
        {
            { "signature", f.Signature },
            { "summary", f.Summary },
            { "lines", new YamlSequenceNode(f.Lines.Select(l => new YamlScalarNode(l.ToString()))) { Style = YamlDotNet.Core.Events.SequenceStyle.Flow } },
        }));
        var events = new YamlSequenceNode(Read.Events.Select(e => (YamlNode)new YamlMappingNode
        {
            { "line", e.Line.ToString() }, { "event", e.Name }, { "args", e.Args },
        }));
        var root = new YamlMappingNode
        {
            { "schema", Schema },
            { "source", Read.Path },
            { "lines-read", Read.LinesRead.ToString() },
            { "lines-skipped", Read.LinesSkipped.ToString() },
            { "events-by-kind", kinds },
            { "findings", findings },
            { "events", events },
        };
        AtomicFile.WriteAllText(path, YamlFields.Save(root));
    }
}
