using System.Diagnostics;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;

namespace VfioFuzz.Fuzzing;

/// <summary>
/// The seeded in-process smoke mode: random byte strings from a seeded generator, decoded
/// and run; every signature not yet in the store is minimized and saved. Deterministic for a
/// seed (the same seed gives the same programs in the same order). It is not the
/// coverage-guided engine: that is AFL++/libFuzzer driving SharpFuzz-instrumented code.
/// </summary>
public sealed class InProcessCampaign(Profile profile, string targetId, Func<Listener.ListenerTarget> createTarget, FindingStore store,
    RunOptions? options = null)
{
    Triage? _triage;

    public IReadOnlyList<CampaignFinding> Findings => _triage?.Findings ?? [];

    public CampaignStats Run(ulong seed, TimeSpan budget, Action<CampaignStats>? progress, CancellationToken cancel, long maxExecs = long.MaxValue)
    {
        var runner = new ProgramRunner(profile, createTarget, options);
        var rng = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        var triage = _triage = new Triage(profile, targetId, runner, store, "in-process");
        var clock = Stopwatch.StartNew();
        var nextReport = TimeSpan.FromSeconds(1);
        long execs = 0;
        var buffer = new byte[ProgramDecoder.MaxInputBytes];
        while (execs < maxExecs && clock.Elapsed < budget && !cancel.IsCancellationRequested)
        {
            var bytes = buffer.AsMemory(0, rng.Next(4, buffer.Length + 1));
            rng.NextBytes(bytes.Span);
            var result = runner.Run(bytes, out var program);
            execs++;
            if (!result.Clean) triage.Consider(program, result);
            if (progress is not null && clock.Elapsed >= nextReport)
            {
                progress(Stats(execs, clock.Elapsed, budget));
                nextReport = clock.Elapsed + TimeSpan.FromSeconds(1);
            }
        }
        return Stats(execs, clock.Elapsed, budget);
    }

    CampaignStats Stats(long execs, TimeSpan elapsed, TimeSpan budget) => CampaignStats.Of(targetId, execs, elapsed, budget, Findings);
}
