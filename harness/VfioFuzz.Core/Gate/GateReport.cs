using System.Xml.Linq;
using VfioFuzz.Reports;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Gate;

/// <summary>
/// reports/gate/&lt;sha&gt;-&lt;UTC time&gt;.yaml, one per run (schema vfio-fuzz/gate/1: verdict, every check, regressions with
/// reproducers, fixes, base and patch SHAs) and &lt;sha&gt;.junit.xml beside it, one test case per
/// check, so GitLab, Jenkins and GitHub show per-check results. Both written atomically.
/// </summary>
public static class GateReport
{
    public const string Schema = "vfio-fuzz/gate/1";

    public static (string Yaml, string Junit) Write(string dir, string branch, GateResult r)
    {
        string sha = r.Patch.CommitSha;
        var root = new YamlMappingNode
        {
            { "schema", Schema },
            { "created", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ") },
            { "branch", branch },
            { "patch", new YamlMappingNode
                {
                    { "sha", sha }, { "subject", r.Patch.Subject }, { "author", r.Patch.Author }, { "file", r.Patch.Path },
                    { "upstream", r.Commit?.UpstreamSha ?? "unknown" }, { "target", r.Target ?? "none" },
                } },
            { "base", new YamlMappingNode { { "target", r.BaseTarget ?? "none" } } },
            { "verdict", r.Passed ? "pass" : "fail" },
            { "checks", new YamlSequenceNode(r.Checks.Select(c => (YamlNode)new YamlMappingNode
                { { "name", c.Name }, { "result", c.Passed ? "pass" : "fail" }, { "message", c.Message } })) },
            { "regressions", new YamlSequenceNode(r.Regressions.Select(g => (YamlNode)new YamlMappingNode
                { { "signature", g.Signature }, { "found-by", g.Source }, { "reproducer", g.Reproducer } })) },
            { "fixes", new YamlSequenceNode(r.Fixes.Select(f => (YamlNode)new YamlMappingNode
                { { "entry", f.Entry }, { "base-signatures", new YamlSequenceNode(f.BaseSignatures.Select(s => new YamlScalarNode(s))) } })) },
            { "fuzz-programs", r.FuzzExecs.ToString() },
        };
        // One pair of files per run: a later gate of the same pick never overwrites this verdict.
        string id = RunIds.Claim(dir, RunIds.Stamp(sha), ".yaml");
        string yaml = Path.Combine(dir, $"{id}.yaml"), junit = Path.Combine(dir, $"{id}.junit.xml");
        AtomicFile.WriteAllText(yaml, YamlFields.Save(root));
        AtomicFile.WriteAllText(junit, Junit(branch, r).ToString());
        return (yaml, junit);
    }

    static XDocument Junit(string branch, GateResult r)
    {
        string suite = $"vfio-fuzz gate {branch} {r.Patch.CommitSha[..12]}";
        return new XDocument(new XDeclaration("1.0", "utf-8", null),
            new XElement("testsuites",
                new XElement("testsuite",
                    new XAttribute("name", suite),
                    new XAttribute("tests", r.Checks.Count),
                    new XAttribute("failures", r.Checks.Count(c => !c.Passed)),
                    new XAttribute("errors", 0),
                    r.Checks.Select(c => new XElement("testcase",
                        new XAttribute("classname", $"gate.{branch}.{r.Patch.CommitSha[..12]}"),
                        new XAttribute("name", c.Name),
                        c.Passed ? new XElement("system-out", c.Message) : new XElement("failure", new XAttribute("message", c.Message), c.Message))))));
    }
}
