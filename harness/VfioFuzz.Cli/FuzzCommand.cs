using System.CommandLine;
using System.Runtime.InteropServices;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Iommufd;
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
        var engine = new Option<string>("--engine") { Description = "afl (AFL++) or libfuzzer (libFuzzer), both coverage-guided over SharpFuzz; or inprocess (seeded random smoke mode)", DefaultValueFactory = _ => "afl" };
        var jobs = new Option<int>("--jobs") { Description = "parallel campaigns: targets side by side, and engine instances (AFL++ -M/-S, libFuzzer -fork) for the rest", DefaultValueFactory = _ => 1 };
        var backend = BackendOption.Create(" (iommufd with --engine inprocess; the afl and libfuzzer drivers run the simulator)");
        var nightly = new Option<bool>("--nightly") { Description = "every target in turn; reports in reports/<date>/ with a new-vs-known summary.yaml" };
        var untilFirst = new Option<bool>("--until-first-finding") { Description = "afl, libfuzzer: stop a campaign at its first new signature and print the time it took" };
        var resume = new Option<bool>("--resume") { Description = "afl, libfuzzer: continue the previous campaign's queue/corpus instead of starting over" };
        var duration = new Option<string>("--duration") { Description = "budget per target: 90, 90s, 10m, 1h", DefaultValueFactory = _ => "60s" };
        var seed = new Option<ulong?>("--seed") { Description = "inprocess: generator seed; afl: AFL++'s -s (instance i gets seed+i); default: from the clock, printed" };
        var findings = new Option<string>("--findings") { Description = "where minimized reproducers go", DefaultValueFactory = _ => "corpus/findings" };
        var reports = new Option<string>("--reports") { Description = "where the YAML reports go", DefaultValueFactory = _ => "reports" };
        var cmd = new Command("fuzz", "Fuzz targets for a time budget; minimize and save what the oracles find")
            { target, profile, kernel, engine, backend, jobs, nightly, untilFirst, resume, duration, seed, findings, reports };
        cmd.SetAction(r => Run(r.GetValue(nightly) ? "all" : r.GetValue(target)!, r.GetValue(profile)!, r.GetValue(kernel), r.GetValue(engine)!,
            r.GetValue(backend)!, r.GetValue(jobs), r.GetValue(nightly), r.GetValue(untilFirst), r.GetValue(resume), r.GetValue(duration)!, r.GetValue(seed), r.GetValue(findings)!, r.GetValue(reports)!));
        return cmd;
    }

    static int Run(string targetSpec, string profileName, string? kernel, string engineName, string backendSpec, int jobs, bool nightly, bool untilFirst, bool resume,
        string durationText, ulong? seedOption, string findingsDir, string reportsDir)
    {
        if (jobs < 1) return Cli.Fail($"--jobs {jobs}: must be at least 1");
        if (backendSpec != "sim" && engineName != "inprocess") return Cli.Fail($"--backend {backendSpec} needs --engine inprocess: the {engineName} driver runs the simulator");
        if (!BackendOption.TryFactory(backendSpec, out var backendFactory, out var backendError)) return Cli.Fail(backendError!);
        if (untilFirst && engineName == "inprocess") return Cli.Fail("--until-first-finding is for the afl and libfuzzer engines");
        if (!Duration.TryParse(durationText, out var budget)) return Cli.Fail($"--duration '{durationText}' is not a duration (e.g. 90, 90s, 10m, 1h)");
        Profile profile;
        IReadOnlyList<string> targetIds;
        try
        {
            profile = Profile.Resolve(profileName, kernel);
            targetIds = Cli.Catalog.Select(targetSpec);
        }
        catch (ArgumentException e) { return Cli.Fail(e.Message); }

        IFuzzEngine? engine = null;
        if (engineName != "inprocess")
        {
            string? root = FuzzDriverBuild.FindRepoRoot();
            if (root is null) return Cli.Fail($"the {engineName} engine builds the driver from the repository: run it inside a vfio-fuzz checkout");
            var build = new FuzzDriverBuild(root);
            engine = engineName switch
            {
                "afl" => new AflEngine(build),
                "libfuzzer" => new LibFuzzerEngine(build),
                _ => null,
            };
            if (engine is null) return Cli.Fail($"unknown engine '{engineName}' (afl, libfuzzer, inprocess)");
            if (engine.Prepare() is { } error) return Cli.Fail(error);
        }
        ulong seed = seedOption ?? (ulong)DateTime.UtcNow.Ticks;
        int parallel = Math.Min(jobs, targetIds.Count), instances = Math.Max(1, jobs / parallel);
        Console.WriteLine($"fuzz: engine {engine?.Name ?? "inprocess"}, profile {profile.Name} (kernel {Profile.KernelName(profile.Kernel)}), " +
                          $"{(engine is null ? $"seed {seed}, " : "")}{budget.TotalSeconds:0}s per target, {parallel} campaign(s) at a time" +
                          (engine is null ? "" : $", {instances} engine instance(s) each"));
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });

        var store = new FindingStore(findingsDir);
        string runId = nightly ? DateTime.UtcNow.ToString("yyyy-MM-dd") : Cli.RunId("fuzz");
        var results = new (string Target, IReadOnlyList<CampaignFinding> Found, bool Complete)[targetIds.Count];
        Parallel.For(0, targetIds.Count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, i =>
        {
            string id = targetIds[i];
            if (cancel.IsCancellationRequested) { results[i] = (id, [], false); return; }
            var progress = ProgressLine.For(parallel);
            IReadOnlyList<CampaignFinding> found;
            if (engine is not null)
            {
                var triage = new Triage(profile, id, new ProgramRunner(profile, () => Cli.Catalog.Create(id)), store, engine.Name);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var run = new EngineRun(id, profile, budget, resume, instances, store, triage, progress, untilFirst, Seed: seedOption);
                engine.Run(run, cancel.Token);
                if (untilFirst)
                    progress.Print(run.FirstFindingReached
                        ? $"[{id}] time-to-first-finding: {clock.Elapsed.TotalSeconds:0.00}s ({triage.Findings.First(f => !f.Known).Finding.Signature})"
                        : $"[{id}] time-to-first-finding: none within {budget.TotalSeconds:0}s");
                found = triage.Findings;
            }
            else found = RunInProcess(profile, id, store, seed, budget, progress, backendFactory, cancel.Token);
            bool complete = !cancel.IsCancellationRequested;
            WriteReport(reportsDir, runId, id, engine is null ? seed : null, found, complete, backendSpec);
            results[i] = (id, found, complete);
        });
        foreach (var (id, found, _) in results)
            foreach (var f in found)
                Console.WriteLine($"  {id}: {(f.Known ? "known" : "NEW  ")} {f.Finding.Signature} ({f.Minimized.Ops.Length} ops) {f.ReproducerPath}");
        if (nightly) WriteSummary(Path.Combine(reportsDir, runId, "summary.yaml"), profile, results);
        if (cancel.IsCancellationRequested) Console.WriteLine("fuzz: interrupted; reproducers so far are saved, reports are marked complete: false");
        Console.WriteLine($"reports: {Path.Combine(reportsDir, runId)}/");
        return results.Sum(r => r.Found.Count(f => !f.Known)) > 0 ? Cli.Findings : Cli.Ok;
    }

    /// <summary>The nightly summary: per target, the signatures found new this night and the
    /// ones already in the corpus.</summary>
    static void WriteSummary(string path, Profile profile, (string Target, IReadOnlyList<CampaignFinding> Found, bool Complete)[] summary)
    {
        var targets = new YamlMappingNode();
        foreach (var (target, found, complete) in summary)
            targets.Add(target, new YamlMappingNode
            {
                { "complete", complete ? "true" : "false" },
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
        foreach (var (target, found, _) in summary)
            Console.WriteLine($"  {target,-22} new {found.Count(f => !f.Known)}  known {found.Count(f => f.Known)}");
    }

    static IReadOnlyList<CampaignFinding> RunInProcess(Profile profile, string id, FindingStore store, ulong seed, TimeSpan budget,
        ProgressLine progress, Func<Profile, HostMemory, IIoas>? backend, CancellationToken cancel)
    {
        var campaign = new InProcessCampaign(profile, id, () => Cli.Catalog.Create(id), store, new RunOptions(Backend: backend));
        var stats = campaign.Run(seed, budget, s => progress.Update(s.Line()), cancel);
        progress.Print(stats.Line());
        return campaign.Findings;
    }

    /// <summary>The report replays each saved reproducer with a trace, so every finding in it
    /// comes with the program that causes it.</summary>
    static void WriteReport(string reportsDir, string runId, string targetId, ulong? seed, IEnumerable<CampaignFinding> findings, bool complete, string backend)
    {
        var entries = findings.Select(f => CorpusFile.Load(f.ReproducerPath)).DistinctBy(e => e.Path);
        var cells = CorpusReplay.Run(entries, Cli.Catalog, [targetId], new RunOptions(Trace: true));
        ReportWriter.Write(reportsDir, runId, "fuzz", Cli.Catalog.Info(targetId), backend, seed, cells, complete);
    }
}
