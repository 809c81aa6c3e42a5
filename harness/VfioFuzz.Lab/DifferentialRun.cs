using VfioFuzz.Fuzzing;
using VfioFuzz.Iommufd;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Oracles;
using VfioFuzz.RealQemu;
using VfioFuzz.Running;

namespace VfioFuzz.Lab;

/// <summary>
/// `vfio-fuzz-lab fuzz SECONDS SEED OUTDIR`: the differential campaign the mission's "runs
/// against real iommufd" asks for, in the lab guest: seeded random programs on every profile
/// that runs a VM through iommufd (the nested-QEMU machines are judged by realqemu instead),
/// every target and each container it drives, each call on the lab kernel's domain-attached
/// IOAS (or a type1 container iommufd's compat layer serves over one) and on the simulator in
/// lockstep (<see cref="DifferentialIoas"/>, <see cref="VfioFuzz.Type1.DifferentialType1"/>).
/// Findings are minimized and saved as a campaign saves them, under OUTDIR/findings (backend
/// divergences only: the targets' own findings are the simulator campaigns' business); any of
/// them fails the run. LAB-FUZZ lines give each cell's programs and programs/s in the guest.
/// </summary>
static class DifferentialRun
{
    static readonly TimeSpan MinimumSlice = TimeSpan.FromSeconds(20);

    /// <summary>The comparison must see a difference the kernel really has: with no domain
    /// attached the kernel pins lazily, so gb200's GPU BAR0 (a VM_PFNMAP mmap) maps where the
    /// simulator, as QEMU's kernel, answers EFAULT. Null when the run shows exactly that.</summary>
    static string? SelfCheck(KernelSessions bare, TargetCatalog catalog, TimeSpan watchdog)
    {
        var profile = Profile.Gb200Nvlink with { Kernel = KernelFlavor.NoDmabuf };
        var options = new RunOptions(Watchdog: TimeSpan.FromMinutes(5), Backend: (p, host) => bare.OpenDifferential(p, host, watchdog, new SimulatorAnswers()));
        var result = new ProgramRunner(profile, () => catalog.Create("qemu-11.0"), options).Run(Programs.FuzzProgram.Empty);
        const string expected = "backend-divergence:map:OK-vs-EFAULT";
        if (!result.Signatures.Contains(expected))
            return $"a bare IOAS (lazy pinning) should show {expected} at gb200's first BAR; it showed [{string.Join(", ", result.Signatures)}]";
        Console.WriteLine($"LAB-FUZZ self-check: a bare IOAS (lazy pinning) diverges as it must: {expected}");
        return null;
    }

    public static int Run(int seconds, ulong seed, string outDir, TargetCatalog catalog, TimeSpan watchdog)
    {
        var sessions = KernelSessions.Probe(watchdog, requireDomain: true);
        if (SelfCheck(sessions.WithoutDomain(), catalog, watchdog) is { } failed)
        {
            Console.WriteLine($"LAB-FUZZ self-check FAILED: {failed}");
            return 2;
        }
        var answered = new SimulatorAnswers();
        var profiles = Profile.BuiltIn.Where(p => NestedMachine.Of(p) is null).ToArray();
        // A cell: a profile, a target, and the container the target drives. A type1 container
        // is served by iommufd's VFIO compatibility layer over the same domain-attached IOAS
        // (what CONFIG_IOMMUFD_VFIO_CONTAINER serves), against its simulator.
        var containers = new[] { ContainerKind.Iommufd, ContainerKind.Type1 };
        var targets = containers.SelectMany(c => catalog.Targets.Where(t => t.Has(c)).Select(t => (Id: t.Id, Container: c))).ToArray();
        var store = new FindingStore(Path.Combine(outDir, "findings"), catalog);
        // A program takes seconds here (every RAM map pins, 2 GiB at a time, in a TCG guest),
        // so a cell gets at least MinimumSlice and a short run covers only some cells: which
        // ones, and in what order, follows the seed (another night, other cells).
        var cells = profiles.SelectMany(p => targets.Select(t => (Profile: p, Target: t))).ToArray();
        new Random(unchecked((int)seed ^ (int)(seed >> 32))).Shuffle(cells);
        int covered = Math.Clamp((int)(seconds / MinimumSlice.TotalSeconds), 1, cells.Length);
        var slice = TimeSpan.FromSeconds((double)seconds / covered);
        Console.WriteLine($"LAB-FUZZ {sessions.Describe}; {covered} of {cells.Length} cells ({profiles.Length} profiles x {targets.Length} target-container pairs), " +
                          $"{slice.TotalSeconds:0.#} s each, seed {seed}");
        long programs = 0;
        var elapsed = TimeSpan.Zero;
        var divergences = new SortedSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < covered; i++)
        {
            var (profile, (id, container)) = cells[i];
            var options = new RunOptions(Watchdog: TimeSpan.FromMinutes(5),
                Backend: (p, host) => sessions.OpenDifferential(p, host, watchdog, answered),
                Container: container == ContainerKind.Type1 ? ContainerChoice.Type1 : ContainerChoice.Iommufd,
                Type1Backend: (p, host) => sessions.OpenDifferentialType1(p, host, watchdog));
            // Only backend divergences are triaged here: minimizing a target's own findings on a
            // TCG guest's kernel (seconds a run) would take the budget, and the simulator's
            // campaigns find those anyway.
            var campaign = new InProcessCampaign(profile, id, () => catalog.Create(id), store, options,
                judged: s => FindingKinds.KindOf(s) == FindingKinds.BackendDivergence);
            var stats = campaign.Run(seed + (ulong)i, slice, null, CancellationToken.None);
            programs += stats.Execs;
            elapsed += stats.Elapsed;
            var found = campaign.Findings.Where(f => !f.Known).Select(f => f.Finding.Signature).ToArray();
            divergences.UnionWith(found);
            Console.WriteLine($"LAB-FUZZ {profile.Name} {id} {container.Name()} (seed {seed + (ulong)i}): {stats.Execs} programs in {stats.Elapsed.TotalSeconds:0.0} s ({stats.ExecsPerSecond:0.00}/s)" +
                              (found.Length > 0 ? $", new: {string.Join(", ", found)}" : ""));
        }
        Console.WriteLine($"LAB-FUZZ total: {programs} programs in {elapsed.TotalSeconds:0} s ({programs / Math.Max(elapsed.TotalSeconds, 1e-9):0.00}/s); " +
                          $"answered by the simulator alone: {answered}; backend divergences: {(divergences.Count == 0 ? "none" : string.Join(", ", divergences))}");
        return divergences.Count == 0 ? 0 : 1;
    }
}
