using System.CommandLine;
using VfioFuzz.Gate;
using VfioFuzz.Reports;
using VfioFuzz.Yaml;

namespace VfioFuzz.Cli;

/// <summary>`gate`: the verdict on a cherry-pick (an mbox, or a SHA of the branch's series):
/// pick trailer, Signed-off-by, target model, corpus and cassette replay, a fuzz budget;
/// reports/gate/&lt;sha&gt;.yaml and .junit.xml. Exit 0 pass, 1 fail, 2 usage or input error.</summary>
static class GateCommand
{
    public static Command Create()
    {
        var patch = new Argument<string>("patch") { Description = "a `git format-patch` mbox (one or more picks), or a SHA in the branch's series.yaml" };
        var branch = new Option<string>("--branch") { Description = "the branch the pick goes to", Required = true };
        var baseTarget = new Option<string?>("--base") { Description = "the target to compare with (default: the tree before the pick, from series.yaml)" };
        var fuzz = new Option<string>("--fuzz") { Description = "fuzzing budget on the pick's target (in-process, seeded)", DefaultValueFactory = _ => "60s" };
        var seed = new Option<ulong>("--seed") { Description = "campaign seed", DefaultValueFactory = _ => 1 };
        var series = new Option<string?>("--series") { Description = "series file (default: patches-under-test/<branch>/series.yaml)" };
        var reports = new Option<string>("--reports") { Description = "where reports/gate/ goes", DefaultValueFactory = _ => "reports" };
        var findings = new Option<string>("--findings") { Description = "where fuzzing reproducers go", DefaultValueFactory = _ => "corpus/findings" };
        var container = ContainerOption.Create(entries: true);
        var cmd = new Command("gate", "Gate a cherry-pick onto a branch: trailers, target, corpus, cassettes, fuzzing; YAML and JUnit verdicts")
            { patch, branch, baseTarget, fuzz, seed, series, reports, findings, container };
        cmd.SetAction(r => Run(r.GetValue(patch)!, r.GetValue(branch)!, r.GetValue(baseTarget), r.GetValue(fuzz)!, r.GetValue(seed),
            r.GetValue(series), r.GetValue(reports)!, r.GetValue(findings)!, r.GetValue(container)));
        return cmd;
    }

    static int Run(string patchArg, string branch, string? baseTarget, string fuzzText, ulong seed, string? seriesPath, string reportsDir, string findingsDir,
        string? containerSpec)
    {
        if (!ContainerOption.TryParse(containerSpec, null, out var container, out var containerError)) return Cli.Fail(containerError!);
        if (!Duration.TryParse(fuzzText, out var budget, out var durationProblem)) return Cli.Fail($"--fuzz {durationProblem}");
        seriesPath ??= Path.Combine("patches-under-test", branch, "series.yaml");
        OutputFolder.EnsureWritable(Path.Combine(reportsDir, "gate"), "--reports");
        OutputFolder.EnsureWritable(findingsDir, "--findings");
        Series series;
        IReadOnlyList<Patch> patches;
        try
        {
            series = Series.Load(seriesPath);
            if (series.Branch != branch) return Cli.Fail($"{seriesPath} is the series of {series.Branch}, not {branch}");
            if (baseTarget is not null) Cli.Catalog.Select(baseTarget);
            if (File.Exists(patchArg)) patches = PatchMbox.Parse(patchArg);
            else
            {
                var commit = series.Find(patchArg) ?? throw new ArgumentException($"'{patchArg}' is neither a file nor a commit of {seriesPath}");
                patches = PatchMbox.Parse(Path.Combine(series.Folder, commit.PatchFile));
            }
        }
        catch (ArgumentException e) { return Cli.Fail(e.Message); }   // input errors of the files: ExitContract

        // The fuzz phase is most of a gate's time: it reports like a campaign does.
        var progress = ProgressLine.For(1);
        var options = new GateOptions("corpus", budget, seed, findingsDir, baseTarget, FuzzProgress: s => progress.Update("  fuzzing " + s.Line()), Container: container);
        bool allPassed = true;
        foreach (var patch in patches)
        {
            Console.WriteLine($"gate {patch.CommitSha[..12]} \"{patch.Subject}\" onto {branch} ({patch.Path}:{patch.Line})");
            var result = GateRun.Run(patch, series, Cli.Catalog, options);
            progress.Print($"  fuzzed {CampaignPlan.Seconds(budget)} (seed {seed}): {result.FuzzExecs} programs");
            foreach (var c in result.Checks) Console.WriteLine($"  {(c.Passed ? "PASS" : "FAIL")} {c.Name}: {c.Message}");
            foreach (var f in result.Fixes) Console.WriteLine($"  fixed: {f.Entry} (the base shows {string.Join(", ", f.BaseSignatures)})");
            var (yaml, junit) = GateReport.Write(Path.Combine(reportsDir, "gate"), branch, result);
            Console.WriteLine($"  verdict: {(result.Passed ? "pass" : "FAIL")} ({result.Target ?? "no target"} vs {result.BaseTarget ?? "-"}); reports: {yaml}, {junit}");
            allPassed &= result.Passed;
        }
        return allPassed ? Cli.Ok : Cli.Findings;
    }
}
