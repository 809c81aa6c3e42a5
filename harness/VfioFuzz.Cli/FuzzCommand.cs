using System.CommandLine;
using System.Runtime.InteropServices;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Reports;
using VfioFuzz.Running;
using VfioFuzz.Yaml;
using YamlDotNet.RepresentationModel;

namespace VfioFuzz.Cli;

/// <summary>
/// `fuzz`: a campaign per target for a time budget. New signatures are minimized into
/// corpus/findings/&lt;target&gt;/; a report per target goes to reports/&lt;run-id&gt;/. SIGINT or
/// SIGTERM stops the campaign early and still writes the reports; reproducers are written
/// atomically as they are found. Exit 1 when a campaign found a signature not yet in the
/// corpus, 0 otherwise.
/// </summary>
static class FuzzCommand
{
    public static Command Create()
    {
        var target = new Option<string>("--target") { Description = "target id, comma-separated ids, or all", DefaultValueFactory = _ => "all" };
        var profile = new Option<string>("--profile") { Description = "gb200-nvlink or vr-cxl-type2", DefaultValueFactory = _ => "vr-cxl-type2" };
        var kernel = new Option<string?>("--kernel") { Description = "dmabuf or no-dmabuf (default: the profile's)" };
        var engine = new Option<string>("--engine") { Description = "afl (AFL++ over SharpFuzz, coverage-guided) or inprocess (seeded smoke mode)", DefaultValueFactory = _ => "afl" };
        var nightly = new Option<bool>("--nightly") { Description = "every target in turn; reports in reports/<date>/ with a new-vs-known summary.yaml" };
        var resume = new Option<bool>("--resume") { Description = "afl: continue the previous campaign's queue instead of starting over" };
        var duration = new Option<string>("--duration") { Description = "budget per target: 90, 90s, 10m, 1h", DefaultValueFactory = _ => "60s" };
        var seed = new Option<ulong?>("--seed") { Description = "generator seed (default: from the clock, printed)" };
        var findings = new Option<string>("--findings") { Description = "where minimized reproducers go", DefaultValueFactory = _ => "corpus/findings" };
        var reports = new Option<string>("--reports") { Description = "where the YAML reports go", DefaultValueFactory = _ => "reports" };
        var cmd = new Command("fuzz", "Fuzz targets for a time budget; minimize and save what the oracles find")
            { target, profile, kernel, engine, nightly, resume, duration, seed, findings, reports };
        cmd.SetAction(r => Run(r.GetValue(nightly) ? "all" : r.GetValue(target)!, r.GetValue(profile)!, r.GetValue(kernel), r.GetValue(engine)!,
            r.GetValue(nightly), r.GetValue(resume), r.GetValue(duration)!, r.GetValue(seed), r.GetValue(findings)!, r.GetValue(reports)!));
        return cmd;
    }

    static int Run(string targetSpec, string profileName, string? kernel, string engine, bool nightly, bool resume, string durationText,
        ulong? seedOption, string findingsDir, string reportsDir)
    {
        if (engine is not ("afl" or "inprocess"))
            return Cli.Fail($"unknown engine '{engine}' (afl, inprocess; libfuzzer is not built yet)");
        if (!Duration.TryParse(durationText, out var budget)) return Cli.Fail($"--duration '{durationText}' is not a duration (e.g. 90, 90s, 10m, 1h)");
        Profile profile;
        IReadOnlyList<string> targetIds;
        try
        {
            profile = Profile.Resolve(profileName, kernel);
            targetIds = Cli.Catalog.Select(targetSpec);
        }
        catch (ArgumentException e) { return Cli.Fail(e.Message); }

        AflEngine? afl = null;
        if (engine == "afl")
        {
            string? root = AflEngine.FindRepoRoot();
            if (root is null) return Cli.Fail("the afl engine builds the driver from the repository: run it inside a vfio-fuzz checkout");
            afl = new AflEngine(root);
            if (afl.Prepare() is { } error) return Cli.Fail(error);
        }
        ulong seed = seedOption ?? (ulong)DateTime.UtcNow.Ticks;
        Console.WriteLine($"fuzz: engine {engine}, profile {profile.Name} (kernel {Profile.KernelName(profile.Kernel)}), seed {seed}, {budget.TotalSeconds:0}s per target");
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });

        var store = new FindingStore(findingsDir);
        string runId = nightly ? DateTime.UtcNow.ToString("yyyy-MM-dd") : Cli.RunId("fuzz");
        var summary = new List<(string Target, IReadOnlyList<CampaignFinding> Found)>();
        bool interactive = !Console.IsOutputRedirected;
        int newFindings = 0;
        foreach (var id in targetIds)
        {
            IReadOnlyList<CampaignFinding> found;
            if (afl is not null)
            {
                var triage = new Triage(profile, id, new ProgramRunner(profile, () => Cli.Catalog.Create(id)), store, "afl++");
                afl.Run(id, profile, budget, resume, store, triage, cancel.Token);
                found = triage.Findings;
            }
            else found = RunInProcess(profile, id, store, seed, budget, interactive, cancel.Token);
            foreach (var f in found)
                Console.WriteLine($"  {(f.Known ? "known" : "NEW  ")} {f.Finding.Signature} ({f.Minimized.Ops.Length} ops) {f.ReproducerPath}");
            newFindings += found.Count(f => !f.Known);
            summary.Add((id, found));
            WriteReport(reportsDir, runId, id, engine == "afl" ? null : seed, found);
            if (cancel.IsCancellationRequested) { Console.WriteLine("fuzz: interrupted; reproducers and reports so far are saved"); break; }
        }
        if (nightly) WriteSummary(Path.Combine(reportsDir, runId, "summary.yaml"), profile, summary);
        Console.WriteLine($"reports: {Path.Combine(reportsDir, runId)}/");
        return newFindings > 0 ? Cli.Findings : Cli.Ok;
    }

    /// <summary>The nightly summary: per target, the signatures found new this night and the
    /// ones already in the corpus.</summary>
    static void WriteSummary(string path, Profile profile, List<(string Target, IReadOnlyList<CampaignFinding> Found)> summary)
    {
        var targets = new YamlMappingNode();
        foreach (var (target, found) in summary)
            targets.Add(target, new YamlMappingNode
            {
                { "new", new YamlSequenceNode(found.Where(f => !f.Known).Select(f => new YamlScalarNode(f.Finding.Signature))) },
                { "known", new YamlSequenceNode(found.Where(f => f.Known).Select(f => new YamlScalarNode(f.Finding.Signature))) },
            });
        var root = new YamlMappingNode
        {
            { "schema", "vfio-fuzz/nightly-summary/1" },
            { "profile", profile.Name },
            { "kernel", Profile.KernelName(profile.Kernel) },
            { "targets", targets },
        };
        AtomicFile.WriteAllText(path, YamlFields.Save(root));
        Console.WriteLine("nightly summary:");
        foreach (var (target, found) in summary)
            Console.WriteLine($"  {target,-22} new {found.Count(f => !f.Known)}  known {found.Count(f => f.Known)}");
    }

    static IReadOnlyList<CampaignFinding> RunInProcess(Profile profile, string id, FindingStore store, ulong seed, TimeSpan budget,
        bool interactive, CancellationToken cancel)
    {
        var campaign = new InProcessCampaign(profile, id, () => Cli.Catalog.Create(id), store);
        var last = DateTime.MinValue;
        var stats = campaign.Run(seed, budget, s =>
        {
            // A terminal gets one live line; a log gets a line every 5 seconds.
            if (interactive) Console.Write($"\r{s.Line()}   ");
            else if (DateTime.UtcNow - last >= TimeSpan.FromSeconds(5)) { Console.WriteLine(s.Line()); last = DateTime.UtcNow; }
        }, cancel);
        if (interactive) Console.Write("\r");
        Console.WriteLine(stats.Line());
        return campaign.Findings;
    }

    /// <summary>The report replays each saved reproducer with a trace, so every finding in it
    /// comes with the program that causes it.</summary>
    static void WriteReport(string reportsDir, string runId, string targetId, ulong? seed, IEnumerable<CampaignFinding> findings)
    {
        var entries = findings.Select(f => CorpusFile.Load(f.ReproducerPath)).DistinctBy(e => e.Path);
        var cells = CorpusReplay.Run(entries, Cli.Catalog, [targetId], new RunOptions(Trace: true));
        ReportWriter.Write(reportsDir, runId, "fuzz", Cli.Catalog.Info(targetId), "sim", seed, cells);
    }
}
