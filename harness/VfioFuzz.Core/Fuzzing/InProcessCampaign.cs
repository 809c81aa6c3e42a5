using System.Diagnostics;
using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.Programs;
using VfioFuzz.Running;

namespace VfioFuzz.Fuzzing;

/// <summary>A finding a campaign saved (or recognised as already saved).</summary>
public sealed record CampaignFinding(Finding Finding, bool Known, string ReproducerPath, FuzzProgram Minimized);

/// <summary>
/// The seeded in-process smoke mode: random byte strings from a seeded generator, decoded
/// and run; every signature not yet in the store is minimized and saved. Deterministic for a
/// seed (the same seed gives the same programs in the same order). It is not the
/// coverage-guided engine: that is AFL++/libFuzzer driving SharpFuzz-instrumented code.
/// </summary>
public sealed class InProcessCampaign(Profile profile, string targetId, Func<Listener.ListenerTarget> createTarget, FindingStore store)
{
    public List<CampaignFinding> Findings { get; } = [];

    public CampaignStats Run(ulong seed, TimeSpan budget, Action<CampaignStats>? progress, CancellationToken cancel, long maxExecs = long.MaxValue)
    {
        var runner = new ProgramRunner(profile, createTarget);
        var rng = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        var seen = new HashSet<string>();
        var byKind = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        var nextReport = TimeSpan.FromSeconds(1);
        long execs = 0;
        var buffer = new byte[ProgramDecoder.MaxOps * 4];
        while (execs < maxExecs && clock.Elapsed < budget && !cancel.IsCancellationRequested)
        {
            var bytes = buffer.AsSpan(0, rng.Next(4, buffer.Length + 1));
            rng.NextBytes(bytes);
            var program = ProgramDecoder.Decode(bytes, profile);
            var result = runner.Run(program);
            execs++;
            foreach (var f in result.Findings)
            {
                if (!seen.Add(f.Signature)) continue;
                byKind[f.Kind] = byKind.GetValueOrDefault(f.Kind) + 1;
                Findings.Add(Record(runner, program, f));
            }
            if (progress is not null && clock.Elapsed >= nextReport)
            {
                progress(Stats(execs, clock.Elapsed, budget, byKind));
                nextReport = clock.Elapsed + TimeSpan.FromSeconds(1);
            }
        }
        return Stats(execs, clock.Elapsed, budget, byKind);
    }

    CampaignFinding Record(ProgramRunner runner, FuzzProgram program, Finding f)
    {
        string path = store.PathFor(targetId, f.Signature);
        if (store.IsKnown(targetId, f.Signature)) return new CampaignFinding(f, Known: true, path, program);
        var minimized = new Minimizer(runner).Minimize(program, f.Signature);
        var signatures = runner.Run(minimized).Signatures.ToArray();
        store.Save(targetId, f.Signature, profile, minimized, signatures,
            $"Found by the in-process fuzzer on {targetId} ({profile.Name}, kernel {Profile.KernelName(profile.Kernel)}), minimized from {program.Ops.Length} to {minimized.Ops.Length} ops.\n{f.Summary}\n{f.Explanation}");
        return new CampaignFinding(f, Known: false, path, minimized);
    }

    CampaignStats Stats(long execs, TimeSpan elapsed, TimeSpan budget, Dictionary<string, int> byKind) =>
        new(targetId, execs, elapsed, budget, Findings.Count(f => !f.Known), Findings.Count(f => f.Known), new Dictionary<string, int>(byKind));
}
