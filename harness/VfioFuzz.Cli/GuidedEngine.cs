using System.Diagnostics;
using VfioFuzz.Fuzzing;

namespace VfioFuzz.Cli;

/// <summary>
/// The fuzz driver's own coverage-guided loop (`--guided`, GuidedLoop.cs in the driver): the
/// same SharpFuzz instrumentation as AFL++ and libFuzzer read, but every input runs in the
/// driver's process (no fork server, no input file), it mutates whole ops, and it gives most
/// executions to the entries that reach the rarest edges. Layout under
/// .vfio-fuzz/guided/&lt;target&gt;-&lt;profile&gt;-&lt;kernel&gt;/: one folder per instance (i0, i1, ...)
/// with queue/ (kept for --resume), crashes/ and hangs/ (a program that never finished: the
/// instance saves it, exits and is started again; not triaged, as AFL++'s hangs), and guided.log. Each instance takes in what the
/// others kept at its start and every 10 s (the driver's GuidedSync), so a resumed campaign starts
/// every instance from all queues.
/// </summary>
sealed class GuidedEngine(FuzzDriverBuild build) : IFuzzEngine
{
    public string Name => "guided";

    public string? Prepare() => build.PrepareDriver();

    public EngineOutcome Run(EngineRun run, CancellationToken cancel)
    {
        string dir = Path.Combine(build.WorkDir, "guided", run.Slug);
        using var busy = CampaignLock.Acquire(dir);
        if (!run.Resume && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        string seeds = Path.Combine(build.WorkDir, "seeds", Name, run.BoxSlug);
        var (seedCount, _) = build.WriteSeeds(seeds, run.Profile);
        ulong seed = run.Seed ?? (ulong)Random.Shared.NextInt64(1, int.MaxValue);
        Console.WriteLine($"[{run.TargetId}] guided: seed {seed}, {run.Instances} instance(s), {seedCount} seed(s) from corpus/seeds, output {dir}");
        run.TriageStart(Directory.GetFiles(seeds));
        string known = string.Join(",", run.WriteKnown(Path.Combine(build.WorkDir, "known", run.BoxSlug + ".txt")));

        var execs = new LiveExecs(Path.Combine(build.WorkDir, "execs", run.BoxSlug));
        var clock = Stopwatch.StartNew();
        ProcessStartInfo Instance(int i, ulong instanceSeed, TimeSpan budget)
        {
            var psi = new ProcessStartInfo("dotnet");
            foreach (var a in new[] { build.DriverDll, "--guided", Path.Combine(dir, $"i{i}"), seeds, instanceSeed.ToString(),
                         ((int)Math.Max(1, budget.TotalSeconds)).ToString(), run.TargetId, run.Profile.Name, run.Kernel, known })
                psi.ArgumentList.Add(a);
            run.SetDriverCrashRule(psi);
            execs.Export(psi);
            return psi;
        }
        var starts = Enumerable.Range(0, run.Instances).Select(i => Instance(i, seed + (ulong)i, run.Budget)).ToArray();
        // An instance that saved a hang starts again on the rest of the budget, from its queue, with
        // a seed of its own for each restart (the same seed would walk into the same hang).
        var restarts = new int[run.Instances];
        ProcessStartInfo? Restart(int i, int exitCode)
        {
            var left = run.Budget - clock.Elapsed;
            if (exitCode != GuidedHang.ExitCode || left < TimeSpan.FromSeconds(1)) return null;
            restarts[i]++;
            run.Progress.Print($"[{run.TargetId}] guided: instance i{i} saved a hang in {Path.Combine(dir, $"i{i}", "hangs")}; starting it again ({left.TotalSeconds:0} s left)");
            return Instance(i, seed + (ulong)i + (ulong)restarts[i] * RestartSeedStep, left);
        }
        Directory.CreateDirectory(dir);

        string Stats() => $"[{run.TargetId}] guided {execs.Line()} {EngineSupervisor.FoldersSummary(dir)} {EngineSupervisor.FindingsSummary(run.Triage)} " +
                          $"elapsed: {clock.Elapsed.TotalSeconds:0}s remaining: {Math.Max(0, (run.Budget - clock.Elapsed).TotalSeconds):0}s";
        string log = Path.Combine(dir, "guided.log");
        if (!run.FirstFindingReached)
            new EngineSupervisor(run, log).Supervise(starts, DateTime.UtcNow + run.Budget, () => EngineSupervisor.InstanceFiles(dir, "crashes"), Stats, cancel, Restart);
        run.Progress.Print($"{Stats()} (log: {log})");
        return new EngineOutcome(execs.Total, seed);
    }

    /// <summary>Apart from the instances' own seeds (seed + instance): a restart's seed.</summary>
    const ulong RestartSeedStep = 1_000_003;
}
