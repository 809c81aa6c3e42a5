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
/// against real iommufd" asks for, in the lab guest: seeded random programs on every iommufd
/// target and every profile that runs a VM through iommufd (the nested-QEMU machines are type1
/// and judged by realqemu instead), each call on the lab kernel's domain-attached IOAS and on
/// the simulator in lockstep (<see cref="DifferentialIoas"/>). Findings are minimized and saved
/// as a campaign saves them, under OUTDIR/findings; a backend-divergence among them fails the
/// run. LAB-FUZZ lines give each cell's programs and programs/s in the guest.
/// </summary>
static class DifferentialRun
{
    public static int Run(int seconds, ulong seed, string outDir, TargetCatalog catalog, TimeSpan watchdog)
    {
        var sessions = KernelSessions.Probe(watchdog, requireDomain: true);
        var answered = new SimulatorAnswers();
        var profiles = Profile.BuiltIn.Where(p => NestedMachine.Of(p) is null).ToArray();
        var targets = catalog.Targets.Where(t => t.Has(ContainerKind.Iommufd)).Select(t => t.Id).ToArray();
        var store = new FindingStore(Path.Combine(outDir, "findings"), catalog);
        var slice = TimeSpan.FromSeconds((double)seconds / (profiles.Length * targets.Length));
        Console.WriteLine($"LAB-FUZZ {sessions.Describe}; {profiles.Length} profiles x {targets.Length} targets, {slice.TotalSeconds:0.#} s each, seed {seed}");
        long programs = 0;
        var elapsed = TimeSpan.Zero;
        var divergences = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var profile in profiles)
            foreach (var id in targets)
            {
                var options = new RunOptions(Watchdog: TimeSpan.FromMinutes(5), Backend: (p, host) => sessions.OpenDifferential(p, host, watchdog, answered));
                var campaign = new InProcessCampaign(profile, id, () => catalog.Create(id), store, options);
                var stats = campaign.Run(seed, slice, null, CancellationToken.None);
                programs += stats.Execs;
                elapsed += stats.Elapsed;
                var found = campaign.Findings.Where(f => !f.Known).Select(f => f.Finding.Signature).ToArray();
                divergences.UnionWith(found.Where(s => FindingKinds.KindOf(s) == FindingKinds.BackendDivergence));
                Console.WriteLine($"LAB-FUZZ {profile.Name} {id}: {stats.Execs} programs in {stats.Elapsed.TotalSeconds:0.0} s ({stats.ExecsPerSecond:0.00}/s)" +
                                  (found.Length > 0 ? $", new: {string.Join(", ", found)}" : ""));
            }
        Console.WriteLine($"LAB-FUZZ total: {programs} programs in {elapsed.TotalSeconds:0} s ({programs / Math.Max(elapsed.TotalSeconds, 1e-9):0.00}/s); " +
                          $"answered by the simulator alone: {answered}; backend divergences: {(divergences.Count == 0 ? "none" : string.Join(", ", divergences))}");
        return divergences.Count == 0 ? 0 : 1;
    }
}
