using VfioFuzz.Corpus;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Running;

namespace VfioFuzz.Benchmarking;

/// <summary>
/// A bug an engine has to find, as Magma counts them: a signature a target shows only when a
/// program makes it happen. Each bug-corpus entry gives one: the first target (by id) whose
/// expected signatures include one the empty program does not already show on the entry's
/// profile. A signature the empty program shows (a boot-time missing Stage-2, a teardown
/// unmap) is "found" by the first execution of any engine, so timing it measures nothing.
/// </summary>
public sealed record SeedBug(string EntryId, string TargetId, Profile Profile, string Signature, int ReproducerOps)
{
    public string Name => $"{EntryId} on {TargetId}";

    /// <summary>One bug per entry, the same (target, profile, signature) once; entries whose
    /// every expected signature shows at boot are returned in <paramref name="bootVisible"/>.</summary>
    public static IReadOnlyList<SeedBug> From(IEnumerable<CorpusEntry> entries, TargetCatalog catalog, out IReadOnlyList<string> bootVisible)
    {
        var bugs = new List<SeedBug>();
        var skipped = new List<string>();
        foreach (var entry in entries.OrderBy(e => e.Id, StringComparer.Ordinal))
        {
            SeedBug? bug = null;
            foreach (var (target, expected) in entry.Expect.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (expected.Count == 0) continue;
                var atBoot = new ProgramRunner(entry.Profile, () => catalog.Create(target)).Run(FuzzProgram.Empty).Signatures.ToHashSet();
                if (expected.FirstOrDefault(s => !atBoot.Contains(s)) is not { } signature) continue;
                bug = new SeedBug(entry.Id, target, entry.Profile, signature, entry.Program.Ops.Length);
                break;
            }
            if (bug is null) skipped.Add(entry.Id);
            else if (!bugs.Any(b => b.TargetId == bug.TargetId && b.Profile == bug.Profile && b.Signature == bug.Signature)) bugs.Add(bug);
        }
        bootVisible = skipped;
        return bugs;
    }
}
