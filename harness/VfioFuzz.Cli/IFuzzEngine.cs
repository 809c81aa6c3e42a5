using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;

namespace VfioFuzz.Cli;

/// <summary>A coverage-guided engine driving the instrumented driver for one target.</summary>
interface IFuzzEngine
{
    string Name { get; }

    /// <summary>Installs and builds what the engine needs; null when ready, else the error.</summary>
    string? Prepare();

    /// <summary>Fuzzes for the budget (or until cancelled), triaging every crash it saves as
    /// soon as it appears, so a killed campaign has already saved its reproducers.</summary>
    void Run(EngineRun run, CancellationToken cancel);
}

/// <summary>One engine campaign: the target, its budget, how many engine instances, where
/// findings go, and whether to stop at the first new signature (time-to-first-finding runs).</summary>
sealed record EngineRun(string TargetId, Profile Profile, TimeSpan Budget, bool Resume, int Instances,
    FindingStore Store, Triage Triage, ProgressLine Progress, bool UntilFirstFinding)
{
    public bool FirstFindingReached => UntilFirstFinding && Triage.Findings.Any(f => !f.Known);

    public string Kernel => Profile.KernelName(Profile.Kernel);

    public string Slug => $"{TargetId}-{Profile.Name}-{Kernel}";
}
