using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.Programs;
using VfioFuzz.Running;

namespace VfioFuzz.Fuzzing;

/// <summary>A finding a campaign saved (or recognised as already saved).</summary>
public sealed record CampaignFinding(Finding Finding, bool Known, string ReproducerPath, FuzzProgram Minimized);

/// <summary>
/// What every engine does with a program that made an oracle fire: a signature already in the
/// store is known; a new one is minimized (keeping the signature) and saved with the exact
/// set of signatures the minimized program produces on the target, so it replays as expected.
/// </summary>
public sealed class Triage(Profile profile, string targetId, ProgramRunner runner, FindingStore store, string engine)
{
    readonly HashSet<string> _seen = [];

    public List<CampaignFinding> Findings { get; } = [];

    /// <summary>Told of every finding as it is recorded (new or known, boot-time included),
    /// so each engine's output shows it the same way.</summary>
    public Action<CampaignFinding>? Recorded { get; init; }

    /// <summary>Told of a signature seen for the first time, before it is minimized (which can
    /// take a while): an engine can stop crashing on it at once.</summary>
    public event Action<string>? Spotted;

    /// <summary>Which signatures this campaign triages (null: all): a differential campaign
    /// judges the backends, not the targets, whose findings the simulator's campaigns keep.</summary>
    public Predicate<string>? Judged { get; init; }

    /// <summary>Runs a program and records each signature seen for the first time in this campaign.</summary>
    public void Consider(FuzzProgram program) => Consider(program, runner.Run(program));

    /// <summary>Records a finding the caller already has the result for (saves a re-run).</summary>
    public void Consider(FuzzProgram program, RunResult result)
    {
        foreach (var f in result.Findings)
            if ((Judged is null || Judged(f.Signature)) && _seen.Add(f.Signature))
            {
                Spotted?.Invoke(f.Signature);
                var recorded = Record(program, f);
                Findings.Add(recorded);
                Recorded?.Invoke(recorded);
            }
    }

    CampaignFinding Record(FuzzProgram program, Finding f)
    {
        string path = store.PathFor(targetId, f.Signature);
        if (store.IsKnown(targetId, f.Signature)) return new CampaignFinding(f, Known: true, path, program);
        var minimized = new Minimizer(runner).Minimize(program, f.Signature);
        var signatures = runner.Run(minimized).Signatures.ToArray();
        store.Save(targetId, f.Signature, profile, minimized, signatures,
            $"Found by the {engine} engine on {targetId} ({profile.Name}, kernel {Profile.KernelName(profile.Kernel)}), minimized from {program.Ops.Length} to {minimized.Ops.Length} ops.\n{f.Summary}\n{f.Explanation}");
        return new CampaignFinding(f, Known: false, path, minimized);
    }
}
