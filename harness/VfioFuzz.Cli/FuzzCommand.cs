using System.CommandLine;
using System.Runtime.InteropServices;
using VfioFuzz.Corpus;
using VfioFuzz.Fuzzing;
using VfioFuzz.Listener;
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
        var profile = new Option<string>("--profile") { Description = $"the platform: {string.Join(", ", Profile.BuiltIn.Select(p => p.Name))}", DefaultValueFactory = _ => "vr-cxl-type2" };
        var kernel = new Option<string?>("--kernel") { Description = "dmabuf or no-dmabuf (default: the profile's)" };
        var engine = new Option<string>("--engine") { Description = "afl (AFL++), libfuzzer (libFuzzer) or guided (the driver's own loop: in-process, whole-op mutations, rarest edges first), all coverage-guided over SharpFuzz; or inprocess (seeded random smoke mode)", DefaultValueFactory = _ => "afl" };
        var jobs = new Option<int>("--jobs") { Description = "parallel campaigns: targets side by side, and engine instances (AFL++ -M/-S, libFuzzer -fork) for the rest", DefaultValueFactory = _ => 1 };
        var backend = BackendOption.Create(" (iommufd with --engine inprocess; the afl, libfuzzer and guided drivers run the simulator)");
        var differential = BackendOption.CreateDifferential();
        var container = ContainerOption.Create();
        var nightly = new Option<bool>("--nightly") { Description = "every target in turn; reports in reports/<date>/ with a new-vs-known summary.yaml" };
        var untilFirst = new Option<bool>("--until-first-finding") { Description = "afl, libfuzzer, guided: stop a campaign at its first new signature and print the time it took" };
        var resume = new Option<bool>("--resume") { Description = "afl, libfuzzer, guided: continue the previous campaign's queue/corpus instead of starting over" };
        var duration = new Option<string>("--duration") { Description = "the whole command's wall-clock budget, shared by the targets: 90, 90s, 10m, 1h", DefaultValueFactory = _ => "60s" };
        var aflSync = new Option<string?>("--afl-sync") { Description = "afl: join this AFL++ sync folder, shared by several boxes (one target); see README \"Running at scale\"" };
        var aflName = new Option<string>("--afl-name") { Description = "afl with --afl-sync: this box's instance name; the box named main runs -M, the others -S", DefaultValueFactory = _ => "main" };
        var perTarget = new Option<bool>("--per-target") { Description = "--duration is each target's budget instead (the command takes about that times the rounds)" };
        var seed = new Option<ulong?>("--seed") { Description = "inprocess: generator seed; afl: AFL++'s -s; guided: its loop's seed (instance i gets seed+i); default: from the clock, printed" };
        var findings = new Option<string>("--findings") { Description = "where minimized reproducers go", DefaultValueFactory = _ => "corpus/findings" };
        var reports = new Option<string>("--reports") { Description = "where the YAML reports go", DefaultValueFactory = _ => "reports" };
        var cmd = new Command("fuzz", "Fuzz targets for a time budget; minimize and save what the oracles find")
            { target, profile, kernel, engine, backend, differential, container, jobs, nightly, untilFirst, resume, duration, perTarget, seed, findings, reports, aflSync, aflName };
        cmd.SetAction(r => Run(r.GetValue(nightly) ? "all" : r.GetValue(target)!, r.GetValue(profile)!, r.GetValue(kernel), r.GetValue(engine)!,
            r.GetValue(backend)!, r.GetValue(differential), r.GetValue(container), r.GetValue(jobs), r.GetValue(nightly), r.GetValue(untilFirst), r.GetValue(resume), r.GetValue(duration)!, r.GetValue(perTarget), r.GetValue(seed), r.GetValue(findings)!, r.GetValue(reports)!,
            r.GetValue(aflSync) is { } dir ? new AflSync(Path.GetFullPath(dir), r.GetValue(aflName)!) : null));
        return cmd;
    }

    static int Run(string targetSpec, string profileName, string? kernel, string engineName, string backendSpec, bool differential, string? containerSpec, int jobs, bool nightly, bool untilFirst, bool resume,
        string durationText, bool perTarget, ulong? seedOption, string findingsDir, string reportsDir, AflSync? sync)
    {
        if (jobs < 1) return Cli.Fail($"--jobs {jobs}: must be at least 1");
        if (backendSpec != "sim" && engineName != "inprocess") return Cli.Fail($"--backend {backendSpec} needs --engine inprocess: the {engineName} driver runs the simulator");
        if (engineName is not ("afl" or "libfuzzer" or "guided" or "inprocess")) return Cli.Fail($"unknown engine '{engineName}' (afl, libfuzzer, guided, inprocess)");
        if (!BackendOption.TryCreate(backendSpec, differential, out var chosenBackend, out var backendError)) return Cli.Fail(backendError!);
        var backend = chosenBackend!;
        if (!ContainerOption.TryParse(containerSpec, ContainerChoice.Iommufd, out var chosen, out var containerError)) return Cli.Fail(containerError!);
        var container = chosen!.Value;
        if (untilFirst && engineName == "inprocess") return Cli.Fail("--until-first-finding is for the afl, libfuzzer and guided engines");
        if (!Duration.TryParse(durationText, out var budget, out var durationProblem)) return Cli.Fail($"--duration {durationProblem}");
        if (sync is not null && engineName != "afl") return Cli.Fail("--afl-sync is for the afl engine");
        if (sync is not null && !System.Text.RegularExpressions.Regex.IsMatch(sync.Name, "^[A-Za-z0-9_-]+$")) return Cli.Fail($"--afl-name '{sync.Name}': letters, digits, - and _ only (AFL++ instance names)");
        Profile profile;
        IReadOnlyList<string> targetIds;
        try
        {
            profile = Profile.Resolve(profileName, kernel);
            targetIds = Cli.Catalog.Select(targetSpec);
        }
        catch (ArgumentException e) { return Cli.Fail(e.Message); }
        if (sync is not null && targetIds.Count != 1) return Cli.Fail("--afl-sync joins one campaign: name one --target");
        // Both are written to during the run: say now, not after an hour, that they cannot be.
        OutputFolder.EnsureWritable(reportsDir, "--reports");
        OutputFolder.EnsureWritable(findingsDir, "--findings");

        IFuzzEngine? engine = null;
        if (engineName != "inprocess")
        {
            string? root = FuzzDriverBuild.FindRepoRoot();
            if (root is null) return Cli.Fail($"the {engineName} engine builds the driver from the repository: run it inside a vfio-fuzz checkout");
            var build = new FuzzDriverBuild(root);
            engine = engineName switch { "afl" => new AflEngine(build), "libfuzzer" => new LibFuzzerEngine(build), _ => new GuidedEngine(new FuzzDriverBuild(root, FuzzDriverBuild.ListenerCode)) };
            var preparing = System.Diagnostics.Stopwatch.StartNew();
            if (engine.Prepare() is { } error) return Cli.Fail(error);
            // The one-time install and driver build is not fuzzing: the budget starts after it, and says so.
            if (preparing.Elapsed > TimeSpan.FromSeconds(2))
                Console.WriteLine($"fuzz: preparing {engine.Name} took {CampaignPlan.Seconds(preparing.Elapsed)} (installs and the driver build are cached; the budget starts now)");
        }
        ulong seed = seedOption ?? (ulong)DateTime.UtcNow.Ticks;
        int parallel = Math.Min(jobs, targetIds.Count), instances = Math.Max(1, jobs / parallel);
        var plan = new CampaignPlan(budget, perTarget, targetIds.Count, parallel, engine is null ? TimeSpan.Zero : CampaignPlan.EngineMinimum);
        Console.WriteLine($"fuzz plan: {targetIds.Count} target(s) ({string.Join(", ", targetIds)})");
        Console.WriteLine($"  engine {engine?.Name ?? "inprocess"}{(engine is null ? $" (seed {seed})" : $", {instances} engine instance(s) per campaign")}, " +
                          $"profile {profile.Name} (kernel {Profile.KernelName(profile.Kernel)}), backend {backend.Describe()}, container {container.Name()}");
        Console.WriteLine($"  budget {plan.Describe()}");
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });

        var store = new FindingStore(findingsDir, Cli.Catalog, container);
        string runId = RunIds.Claim(reportsDir, nightly ? DateTime.UtcNow.ToString("yyyy-MM-dd") : RunIds.Stamp("fuzz"));
        var results = new CampaignResult[targetIds.Count];
        Parallel.For(0, targetIds.Count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, i =>
        {
            string id = targetIds[i];
            var clock = System.Diagnostics.Stopwatch.StartNew();
            if (cancel.IsCancellationRequested)
            {
                // Interrupted before this campaign started: its report says so (complete: false, no programs).
                results[i] = new CampaignResult(id, [], 0, null, false, TimeSpan.Zero, WriteReport(reportsDir, runId, id, null, [], false, backend, container), null);
                return;
            }
            var slice = plan.NextSlice();
            var progress = ProgressLine.For(parallel);
            void Recorded(CampaignFinding f) =>
                progress.Print($"[{id}] {(f.Known ? "known" : "NEW  ")} {f.Finding.Signature} ({f.Minimized.Ops.Length} ops) {f.ReproducerPath}");
            IReadOnlyList<CampaignFinding> found = [];
            long execs = 0;
            ulong? seedUsed = null;
            string? report = null, error = null;
            try
            {
                if (engine is not null)
                {
                    var triage = new Triage(profile, id, new ProgramRunner(profile, () => Cli.Catalog.Create(id), new RunOptions(Container: container)), store, engine.Name) { Recorded = Recorded };
                    var run = new EngineRun(id, profile, slice, resume, instances, store, triage, progress, untilFirst, Seed: seedOption, Sync: sync, Container: container);
                    try
                    {
                        (execs, var engineSeed) = engine.Run(run, cancel.Token);
                        seedUsed = engineSeed;
                    }
                    finally { found = triage.Findings; }
                    if (untilFirst)
                        progress.Print(run.FirstFindingReached
                            ? $"[{id}] time-to-first-finding: {clock.Elapsed.TotalSeconds:0.00}s ({triage.Findings.First(f => !f.Known).Finding.Signature})"
                            : $"[{id}] time-to-first-finding: none within {slice.TotalSeconds:0}s");
                }
                else
                {
                    var campaign = new InProcessCampaign(profile, id, () => Cli.Catalog.Create(id), store, backend.Options(container: container), Recorded);
                    try
                    {
                        var stats = campaign.Run(seed, slice, s => progress.Update(s.Line()), cancel.Token);
                        progress.Print(stats.Line());
                        execs = stats.Execs;
                        seedUsed = seed;
                    }
                    finally { found = campaign.Findings; }
                }
            }
            catch (Exception e)
            {
                // One target's failure is reported and the others still run.
                error = ExitContract.Describe(e);
                progress.Print($"[{id}] ERROR: {error}");
            }
            bool complete = !cancel.IsCancellationRequested && error is null;
            try { report = WriteReport(reportsDir, runId, id, seedUsed, found, complete, backend, container); }
            catch (Exception e) when (error is null) { error = ExitContract.Describe(e); }
            results[i] = new CampaignResult(id, found, execs, seedUsed, complete, clock.Elapsed, report, error);
        });

        PrintSummary(results);
        var lab = nightly && !cancel.IsCancellationRequested ? LabDifferential.Run(seed, cancel.Token) : null;
        if (lab is not null) Console.WriteLine($"nightly: lab differential run: {lab.Status}: {lab.Detail}");
        if (nightly) WriteSummary(Path.Combine(reportsDir, runId, "summary.yaml"), profile, results, lab);
        if (cancel.IsCancellationRequested) Console.WriteLine("fuzz: interrupted; reproducers so far are saved, reports are marked complete: false");
        Console.WriteLine($"reports: {Path.Combine(reportsDir, runId)}/");
        if (results.FirstOrDefault(r => r.Error is not null) is { } failed)
            return Cli.Fail($"{results.Count(r => r.Error is not null)} of {results.Length} campaign(s) failed; first: {failed.Target}: {failed.Error}",
                failed.Error!.Contains("stack trace in ") ? Cli.InternalError : Cli.InputError);
        return results.Sum(r => r.Found.Count(f => !f.Known)) > 0 || lab?.Status == "diverged" ? Cli.Findings : Cli.Ok;
    }

    /// <summary>One campaign's outcome, as the summary table and the nightly summary show it.</summary>
    sealed record CampaignResult(string Target, IReadOnlyList<CampaignFinding> Found, long Execs, ulong? Seed, bool Complete, TimeSpan Time,
        string? Report, string? Error)
    {
        public int New => Found.Count(f => !f.Known);
        public int Known => Found.Count(f => f.Known);
    }

    static void PrintSummary(CampaignResult[] results)
    {
        int width = Math.Max(6, results.Max(r => r.Target.Length)) + 2;
        Console.WriteLine();
        Console.WriteLine($"{"target".PadRight(width)}{"execs",12} {"new",4} {"known",5} {"time",7}  {"status",-11} report");
        foreach (var r in results)
            Console.WriteLine($"{r.Target.PadRight(width)}{r.Execs,12} {r.New,4} {r.Known,5} {CampaignPlan.Seconds(r.Time),7}  " +
                              $"{(r.Error is not null ? "ERROR" : r.Complete ? "complete" : "interrupted"),-11} {r.Report ?? "-"}");
        foreach (var r in results)
            foreach (var f in r.Found)
                Console.WriteLine($"  {r.Target}: {(f.Known ? "known" : "NEW  ")} {f.Finding.Signature} ({f.Minimized.Ops.Length} ops) {f.ReproducerPath}");
    }

    /// <summary>The nightly summary: per target, the signatures found new this night and the
    /// ones already in the corpus.</summary>
    static void WriteSummary(string path, Profile profile, CampaignResult[] summary, LabDifferential.Outcome? lab)
    {
        var targets = new YamlMappingNode();
        foreach (var r in summary)
            targets.Add(r.Target, new YamlMappingNode
            {
                { "complete", r.Complete ? "true" : "false" },
                { "execs", r.Execs.ToString() },
                { "seed", r.Seed?.ToString() ?? "none" },
                { "error", r.Error ?? "none" },
                { "new", new YamlSequenceNode(r.Found.Where(f => !f.Known).Select(f => new YamlScalarNode(f.Finding.Signature))) },
                { "known", new YamlSequenceNode(r.Found.Where(f => f.Known).Select(f => new YamlScalarNode(f.Finding.Signature))) },
                { "by-kind", ReportWriter.ByKind(r.Found.Select(f => f.Finding)) },
            });
        var root = new YamlMappingNode
        {
            { "schema", "vfio-fuzz/nightly-summary/1" },
            { "profile", profile.Name },
            { "kernel", Profile.KernelName(profile.Kernel) },
            { "targets", targets },
            { "lab-differential", new YamlMappingNode { { "status", lab?.Status ?? "skipped" }, { "detail", lab?.Detail ?? "interrupted" } } },
        };
        AtomicFile.WriteAllText(path, YamlFields.Save(root));
        Console.WriteLine($"nightly summary: {path}");
    }

    /// <summary>The report replays each saved reproducer with a trace on the campaign's backend
    /// (a backend divergence shows only there), so every finding in it comes with the program
    /// that causes it.</summary>
    static string WriteReport(string reportsDir, string runId, string targetId, ulong? seed, IEnumerable<CampaignFinding> findings, bool complete, BackendChoice backend,
        ContainerChoice container)
    {
        var entries = findings.Select(f => CorpusFile.Load(f.ReproducerPath)).DistinctBy(e => e.Path);
        var cells = CorpusReplay.Run(entries, Cli.Catalog, [targetId], backend.Options(trace: true));
        return ReportWriter.Write(reportsDir, runId, "fuzz", Cli.Catalog.Info(targetId), backend.Describe(), seed, cells, complete, container.Name());
    }
}
