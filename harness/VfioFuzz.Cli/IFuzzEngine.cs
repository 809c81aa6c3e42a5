using VfioFuzz.Listener;
using System.Diagnostics;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Programs;

namespace VfioFuzz.Cli;

/// <summary>A coverage-guided engine driving the instrumented driver for one target.</summary>
interface IFuzzEngine
{
    string Name { get; }

    /// <summary>Installs and builds what the engine needs; null when ready, else the error.</summary>
    string? Prepare();

    /// <summary>Fuzzes for the budget (or until cancelled), triaging every crash it saves as
    /// soon as it appears, so a killed campaign has already saved its reproducers.</summary>
    EngineOutcome Run(EngineRun run, CancellationToken cancel);
}

/// <summary>What an engine campaign did: its executions and the seed it actually used (the
/// one to pass back with --seed to rerun it; instance i of several used seed + i).</summary>
sealed record EngineOutcome(long Execs, ulong Seed);

/// <summary>AFL++'s own distribution across boxes: this box's instances join the sync folder
/// <paramref name="Dir"/> (shared by every box, e.g. over NFS) as <paramref name="Name"/>; the box
/// named `main` runs AFL++'s -M instance, every other box -S instances.</summary>
sealed record AflSync(string Dir, string Name);

/// <summary>One engine campaign: the target, its budget, how many engine instances, where
/// findings go, and whether to stop at the first new signature (time-to-first-finding runs),
/// or at the first finding of one signature (the bench's seed bugs; the driver then treats
/// only that signature as a crash).</summary>
sealed record EngineRun(string TargetId, Profile Profile, TimeSpan Budget, bool Resume, int Instances,
    FindingStore Store, Triage Triage, ProgressLine Progress, bool UntilFirstFinding, string? UntilSignature = null, ulong? Seed = null, string? WorkName = null,
    AflSync? Sync = null, ContainerChoice Container = ContainerChoice.Iommufd)
{
    public bool FirstFindingReached => UntilFirstFinding && Triage.Findings.Any(f => !f.Known && (UntilSignature is null || f.Finding.Signature == UntilSignature));

    /// <summary>When and where the engine saved the first input showing each signature (the
    /// crash file's time, not when triage got to it).</summary>
    public Dictionary<string, (DateTime Utc, string File)> FirstSaved { get; } = [];

    public string Kernel => Profile.KernelName(Profile.Kernel);

    /// <summary>Tells the driver process (or the engine that starts it, which passes its
    /// environment on) to crash on <see cref="UntilSignature"/> alone, when one is set, and
    /// which container to run programs on.</summary>
    public void SetDriverCrashRule(ProcessStartInfo psi)
    {
        psi.Environment[ContainerNames.Variable] = Container.Name();
        if (UntilSignature is { } only) psi.Environment[CrashRule.OnlySignatureVariable] = only;
        else if (KnownFile is { } file) psi.Environment[CrashRule.KnownFileVariable] = file;
    }

    /// <summary>The campaign's live known-signatures file (<see cref="CrashRule"/>), once written.</summary>
    public string? KnownFile { get; private set; }

    /// <summary>What the driver must not crash on: the store's signatures and everything this
    /// campaign recorded. Rewritten (atomically) after each new finding, so every engine
    /// instance learns it within a quarter of a second; a signature is written as soon as triage sees it, before minimizing.</summary>
    public IReadOnlyList<string> WriteKnown(string file)
    {
        if (KnownFile is null)
            Triage.Spotted += signature =>
            {
                lock (_spotted) _spotted.Add(signature);
                WriteKnown(file);
            };
        string[] known;
        lock (_spotted)
            known = Store.KnownSignatures(TargetId).Concat(Triage.Findings.Select(f => f.Finding.Signature)).Concat(_spotted).Distinct().ToArray();
        CrashRule.WriteKnownFile(file, known);
        KnownFile = file;
        return known;
    }

    // Signatures triage has seen but not yet saved (it is minimizing them).
    readonly HashSet<string> _spotted = [];

    /// <summary>Triages the empty program (boot-time findings, which every input shows) and the
    /// seeds, so a seed that shows a bug on this target is a finding, and not a crash the engine
    /// drops at its first dry run.</summary>
    public void TriageStart(IEnumerable<string> seedFiles)
    {
        Triage.Consider(FuzzProgram.Empty);
        foreach (var file in seedFiles) Triage.Consider(ProgramDecoder.Decode(File.ReadAllBytes(file), Profile));
    }

    /// <summary>The engine's folder name: per target, profile and kernel, unless the caller
    /// (the bench) names its own so it never touches a campaign's queue.</summary>
    public string Slug => WorkName ?? $"{TargetId}-{Profile.Name}-{Kernel}";

    /// <summary>The slug of this box's part of the campaign: two AFL++ sync boxes on one host
    /// keep their own counters and known-signature files.</summary>
    public string BoxSlug => Sync is null ? Slug : $"{Slug}-{Sync.Name}";
}
