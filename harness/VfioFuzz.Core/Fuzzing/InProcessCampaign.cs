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
    RunOptions? options = null, Action<CampaignFinding>? recorded = null, Predicate<string>? judged = null)
{
    Triage? _triage;

    public IReadOnlyList<CampaignFinding> Findings => _triage?.Findings ?? [];

    public CampaignStats Run(ulong seed, TimeSpan budget, Action<CampaignStats>? progress, CancellationToken cancel, long maxExecs = long.MaxValue)
    {
        var runner = new ProgramRunner(profile, createTarget, options);
        var triage = _triage = new Triage(profile, targetId, runner, store, "in-process") { Recorded = recorded, Judged = judged };
        var clock = Stopwatch.StartNew();
        var nextReport = TimeSpan.FromSeconds(1);
        long execs = 0;
        var generator = new Generator(seed);
        while (execs < maxExecs && clock.Elapsed < budget && !cancel.IsCancellationRequested)
        {
            var result = runner.Run(generator.Next(), out var program);
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

    /// <summary>The pure random baseline of `vfio-fuzz bench`: the same generator, no triage,
    /// until a run shows <paramref name="signature"/>. Returns the time and executions it
    /// took, or null when the budget ran out first.</summary>
    public (TimeSpan Elapsed, long Execs)? TimeTo(string signature, ulong seed, TimeSpan budget, CancellationToken cancel)
    {
        var runner = new ProgramRunner(profile, createTarget, options);
        var generator = new Generator(seed);
        var clock = Stopwatch.StartNew();
        for (long execs = 1; clock.Elapsed < budget && !cancel.IsCancellationRequested; execs++)
        {
            var result = runner.Run(generator.Next(), out _);
            foreach (var f in result.Findings)
                if (f.Signature == signature) return (clock.Elapsed, execs);
        }
        return null;
    }

    /// <summary>Random inputs of random length up to the decoder's maximum, from a seed.</summary>
    sealed class Generator(ulong seed)
    {
        readonly Random _rng = new(unchecked((int)seed ^ (int)(seed >> 32)));
        readonly byte[] _buffer = new byte[ProgramDecoder.MaxInputBytes];

        public ReadOnlyMemory<byte> Next()
        {
            var bytes = _buffer.AsMemory(0, _rng.Next(4, _buffer.Length + 1));
            _rng.NextBytes(bytes.Span);
            return bytes;
        }
    }

    CampaignStats Stats(long execs, TimeSpan elapsed, TimeSpan budget) => CampaignStats.Of(targetId, execs, elapsed, budget, Findings);
}
