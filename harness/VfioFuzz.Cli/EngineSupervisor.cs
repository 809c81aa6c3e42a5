using System.Diagnostics;
using VfioFuzz.Fuzzing;
using VfioFuzz.Programs;

namespace VfioFuzz.Cli;

/// <summary>
/// Runs engine processes for a budget: their output goes to a log file; once a second the
/// crash files they saved are triaged (re-run in-process, de-duplicated, minimized, saved)
/// and the progress line updated. Cancellation or the budget stops them.
/// </summary>
sealed class EngineSupervisor(EngineRun run, string logPath)
{
    readonly HashSet<string> _triaged = [];

    /// <summary>Called with every output line of the engine (for stats parsing).</summary>
    public Action<string>? OnOutput { get; init; }

    /// <summary>Starts the processes and waits until all exit, the deadline passes, or
    /// cancellation; returns false when it had to kill them. An instance that exits is offered
    /// to <paramref name="restart"/> (its index and exit code): a start it returns takes the
    /// instance's place.</summary>
    public bool Supervise(IReadOnlyList<ProcessStartInfo> starts, DateTime deadline, Func<IEnumerable<string>> crashFiles,
        Func<string> stats, CancellationToken cancel, Func<int, int, ProcessStartInfo?>? restart = null)
    {
        using var log = new StreamWriter(logPath, append: true);
        var processes = new List<Process>();
        Process Start(ProcessStartInfo psi)
        {
            psi.RedirectStandardOutput = psi.RedirectStandardError = true;
            var p = Process.Start(DieWithParent.Wrap(psi))!;
            p.OutputDataReceived += (_, e) => Output(log, e.Data);
            p.ErrorDataReceived += (_, e) => Output(log, e.Data);
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            processes.Add(p);
            return p;
        }
        try
        {
            var instances = starts.Select(Start).ToArray();
            var settled = new bool[instances.Length];
            while (true)
            {
                for (int i = 0; i < instances.Length; i++)
                {
                    if (settled[i] || !instances[i].HasExited) continue;
                    instances[i].WaitForExit();   // drains the output events
                    if (restart?.Invoke(i, instances[i].ExitCode) is { } again) instances[i] = Start(again);
                    else settled[i] = true;
                }
                if (settled.All(s => s)) break;
                // A short grace period past the deadline lets the engine stop itself and save
                // stats; the command's budget (CampaignPlan) keeps a reserve for it.
                if (cancel.IsCancellationRequested || DateTime.UtcNow > deadline + TimeSpan.FromSeconds(3) || run.FirstFindingReached)
                {
                    foreach (var p in processes.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
                    TriageNew(crashFiles);
                    return false;
                }
                Thread.Sleep(200);
                TriageNew(crashFiles);
                run.Progress.Update(stats());
            }
            TriageNew(crashFiles);
            return true;
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
        }
    }

    void Output(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log) log.WriteLine(line);
        OnOutput?.Invoke(line);
    }

    void TriageNew(Func<IEnumerable<string>> crashFiles)
    {
        foreach (var file in crashFiles().Order(StringComparer.Ordinal))
        {
            if (!_triaged.Add(file)) continue;
            int before = run.Triage.Findings.Count;
            run.Triage.Consider(ProgramDecoder.Decode(File.ReadAllBytes(file), run.Profile));
            var saved = File.GetLastWriteTimeUtc(file);
            foreach (var f in run.Triage.Findings.Skip(before))
                run.FirstSaved.TryAdd(f.Finding.Signature, (saved, file));
            // The campaign learns as it goes: every engine instance stops crashing on it.
            if (run.Triage.Findings.Count > before && run.KnownFile is { } known) run.WriteKnown(known);
        }
    }

    /// <summary>The `id:*` files in every instance folder's <paramref name="sub"/> (queue, crashes,
    /// hangs): AFL++'s layout, which the guided engine keeps too.</summary>
    public static IEnumerable<string> InstanceFiles(string outDir, string sub) =>
        Directory.Exists(outDir)
            ? Directory.EnumerateDirectories(outDir).Select(d => Path.Combine(d, sub)).Where(Directory.Exists)
                .SelectMany(d => Directory.EnumerateFiles(d, "id:*"))
            : [];

    /// <summary>Corpus, crashes and hangs, counted live from the instance folders (AFL++'s and
    /// the guided engine's layout).</summary>
    public static string FoldersSummary(string outDir) =>
        $"corpus: {InstanceFiles(outDir, "queue").Count()} crashes: {InstanceFiles(outDir, "crashes").Count()} hangs: {InstanceFiles(outDir, "hangs").Count()}";

    /// <summary>Findings by kind, as the progress line shows them.</summary>
    public static string FindingsSummary(Triage triage) =>
        $"findings: {triage.Findings.Count(f => !f.Known)} new, {triage.Findings.Count(f => f.Known)} known" +
        (triage.Findings.Count == 0 ? "" : $" ({string.Join(", ", triage.Findings.GroupBy(f => f.Finding.Kind).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"))})");
}
