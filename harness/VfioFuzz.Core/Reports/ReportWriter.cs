using System.Reflection;
using VfioFuzz.Corpus;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Reports;

/// <summary>
/// The YAML report of one target in one run (schema `vfio-fuzz/report/1`, documented in
/// reports/README.md): who ran what, on which backend and profile, and every finding with
/// its signature, step, explanation, effect, reproducer and the trace lines leading to it.
/// Written atomically.
/// </summary>
public static class ReportWriter
{
    public const string Schema = "vfio-fuzz/report/1";

    public static string ToolVersion =>
        typeof(ReportWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static string Write(string reportsDir, string runId, string command, TargetInfo target, string backend,
        ulong? seed, IEnumerable<ReplayCell> cells, bool complete = true, string container = "iommufd")
    {
        var programs = new YamlSequenceNode();
        bool anyFinding = false, allExpected = true;
        var all = cells.ToArray();
        foreach (var cell in all)
        {
            anyFinding |= !cell.Result.Clean;
            allExpected &= cell.AsExpected != false;
            programs.Add(ProgramNode(cell));
        }
        var root = new YamlMappingNode
        {
            { "schema", Schema },
            { "run-id", runId },
            { "tool-version", ToolVersion },
            { "created", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ") },
            { "command", command },
            { "target", new YamlMappingNode
                {
                    { "id", target.Id },
                    { "kind", target.KindName },
                    { "branch", target.Branch },
                    { "patches", new YamlSequenceNode(target.Patches.Select(p => new YamlScalarNode(p))) },
                    { "provenance", target.Provenance },
                } },
            { "backend", backend },
            { "container", container },
            { "seed", seed is { } s ? s.ToString() : "none" },
            // false when the run was interrupted (SIGINT/SIGTERM): the findings so far, no more.
            { "complete", complete ? "true" : "false" },
            { "verdict", anyFinding ? "fail" : "pass" },
            { "expectations", allExpected ? "met" : "unmet" },
            { "by-kind", ByKind(all.SelectMany(c => c.Result.Findings)) },
            { "programs", programs },
        };
        string path = Path.Combine(reportsDir, runId, $"{target.Id}.yaml");
        AtomicFile.WriteAllText(path, YamlFields.Save(root));
        return path;
    }

    /// <summary>Distinct signatures per finding kind, every kind listed (zeros included), so a
    /// reader can compare runs kind by kind.</summary>
    public static YamlMappingNode ByKind(IEnumerable<Finding> findings)
    {
        var signatures = findings.Select(f => f.Signature).Distinct().ToArray();
        var node = new YamlMappingNode();
        foreach (var kind in FindingKinds.All)
            node.Add(kind, signatures.Count(s => FindingKinds.KindOf(s) == kind).ToString());
        return node;
    }

    static YamlMappingNode ProgramNode(ReplayCell cell)
    {
        var findings = new YamlSequenceNode();
        foreach (var f in cell.Result.Findings) findings.Add(FindingNode(f, cell));
        var node = new YamlMappingNode
        {
            { "entry", cell.Entry.Id },
            { "reproducer", cell.Entry.Path },
            { "profile", cell.Entry.Profile.Name },
            { "kernel", Profile.KernelName(cell.Entry.Profile.Kernel) },
            { "as-expected", cell.AsExpected switch { true => "yes", false => "no", null => "not-judged" } },
            { "findings", findings },
        };
        if (cell.BaseId is not null)
        {
            // Not listed in the entry's expect: judged against the base's signatures.
            node.Add("judged-against", cell.BaseId);
            node.Add("new", new YamlSequenceNode(cell.New.Select(x => new YamlScalarNode(x))));
            node.Add("fixed", new YamlSequenceNode(cell.Fixed.Select(x => new YamlScalarNode(x))));
        }
        return node;
    }

    static YamlMappingNode FindingNode(Finding f, ReplayCell cell)
    {
        var node = new YamlMappingNode
        {
            { "kind", f.Kind },
            { "signature", f.Signature },
            { "step", StepName(f.Step, cell.Entry.Program.Ops.Length) },
            { "summary", f.Summary },
            { "explanation", f.Explanation },
            { "effect", f.Effect },
        };
        var trace = TraceUpTo(cell.Result.Trace, f.Step);
        if (trace.Count > 0) node.Add("trace", new YamlSequenceNode(trace.Select(l => new YamlScalarNode(l))));
        return node;
    }

    public static string StepName(int step, int opCount) =>
        step == 0 ? "boot" : step > opCount ? "teardown" : step.ToString();

    /// <summary>The trace of the finding's step: the lines after its `# step N` marker.</summary>
    static List<string> TraceUpTo(IReadOnlyList<string> trace, int step)
    {
        var lines = new List<string>();
        bool inStep = step == 0;
        foreach (var line in trace)
        {
            if (line.StartsWith("# step ", StringComparison.Ordinal))
            {
                if (inStep && lines.Count > 0) break;
                inStep = line.StartsWith($"# step {step}:", StringComparison.Ordinal);
            }
            if (inStep) lines.Add(line);
        }
        return lines;
    }
}
