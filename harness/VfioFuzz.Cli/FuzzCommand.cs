using System.CommandLine;
using System.Runtime.InteropServices;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Reports;
using VfioFuzz.Running;

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
        var engine = new Option<string>("--engine") { Description = "inprocess (seeded smoke mode); afl and libfuzzer are not built yet", DefaultValueFactory = _ => "inprocess" };
        var duration = new Option<string>("--duration") { Description = "budget per target: 90, 90s, 10m, 1h", DefaultValueFactory = _ => "60s" };
        var seed = new Option<ulong?>("--seed") { Description = "generator seed (default: from the clock, printed)" };
        var findings = new Option<string>("--findings") { Description = "where minimized reproducers go", DefaultValueFactory = _ => "corpus/findings" };
        var reports = new Option<string>("--reports") { Description = "where the YAML reports go", DefaultValueFactory = _ => "reports" };
        var cmd = new Command("fuzz", "Fuzz targets for a time budget; minimize and save what the oracles find")
            { target, profile, kernel, engine, duration, seed, findings, reports };
        cmd.SetAction(r => Run(r.GetValue(target)!, r.GetValue(profile)!, r.GetValue(kernel), r.GetValue(engine)!,
            r.GetValue(duration)!, r.GetValue(seed), r.GetValue(findings)!, r.GetValue(reports)!));
        return cmd;
    }

    static int Run(string targetSpec, string profileName, string? kernel, string engine, string durationText,
        ulong? seedOption, string findingsDir, string reportsDir)
    {
        if (engine != "inprocess")
            return Cli.Fail($"engine '{engine}' is not available yet (only inprocess); the AFL++/libFuzzer engines are issue 3's remaining work");
        if (!Duration.TryParse(durationText, out var budget)) return Cli.Fail($"--duration '{durationText}' is not a duration (e.g. 90, 90s, 10m, 1h)");
        Profile profile;
        IReadOnlyList<string> targetIds;
        try
        {
            profile = Profile.Resolve(profileName, kernel);
            targetIds = Cli.Catalog.Select(targetSpec);
        }
        catch (ArgumentException e) { return Cli.Fail(e.Message); }

        ulong seed = seedOption ?? (ulong)DateTime.UtcNow.Ticks;
        Console.WriteLine($"fuzz: engine inprocess, profile {profile.Name} (kernel {Profile.KernelName(profile.Kernel)}), seed {seed}, {budget.TotalSeconds:0}s per target");
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });

        var store = new FindingStore(findingsDir);
        string runId = Cli.RunId("fuzz");
        bool interactive = !Console.IsOutputRedirected;
        int newFindings = 0;
        foreach (var id in targetIds)
        {
            var campaign = new InProcessCampaign(profile, id, () => Cli.Catalog.Create(id), store);
            var last = DateTime.MinValue;
            var stats = campaign.Run(seed, budget, s =>
            {
                // A terminal gets one live line; a log gets a line every 5 seconds.
                if (interactive) Console.Write($"\r{s.Line()}   ");
                else if (DateTime.UtcNow - last >= TimeSpan.FromSeconds(5)) { Console.WriteLine(s.Line()); last = DateTime.UtcNow; }
            }, cancel.Token);
            if (interactive) Console.Write("\r");
            Console.WriteLine(stats.Line());
            foreach (var f in campaign.Findings)
                Console.WriteLine($"  {(f.Known ? "known" : "NEW  ")} {f.Finding.Signature} ({f.Minimized.Ops.Length} ops) {f.ReproducerPath}");
            newFindings += campaign.Findings.Count(f => !f.Known);
            WriteReport(reportsDir, runId, id, seed, campaign.Findings);
            if (cancel.IsCancellationRequested) { Console.WriteLine("fuzz: interrupted; reproducers and reports so far are saved"); break; }
        }
        Console.WriteLine($"reports: {Path.Combine(reportsDir, runId)}/");
        return newFindings > 0 ? Cli.Findings : Cli.Ok;
    }

    /// <summary>The report replays each saved reproducer with a trace, so every finding in it
    /// comes with the program that causes it.</summary>
    static void WriteReport(string reportsDir, string runId, string targetId, ulong seed, IEnumerable<CampaignFinding> findings)
    {
        var info = Cli.Catalog.Targets.First(t => t.Id == targetId);
        var entries = findings.Select(f => CorpusFile.Load(f.ReproducerPath)).DistinctBy(e => e.Path);
        var cells = CorpusReplay.Run(entries, Cli.Catalog, [targetId], new RunOptions(Trace: true));
        ReportWriter.Write(reportsDir, runId, "fuzz", info, "sim", seed, cells);
    }
}
