using VfioFuzz.Listener;
using VfioFuzz.Running;

namespace VfioFuzz.Corpus;

/// <summary>One entry on one target: what happened and whether it matched the expectation.
/// A target the entry lists is judged against that list; one it does not list is judged
/// against its base (<see cref="TargetBases"/>): a signature the base does not show is NEW
/// (unexpected), one the base shows and the target does not is FIXED. Null when neither
/// applies (the base itself, or a replay asked to judge listed targets only).</summary>
public sealed record ReplayCell(CorpusEntry Entry, TargetInfo Target, RunResult Result, string? BaseId = null, RunResult? BaseResult = null)
{
    public bool Listed => Entry.Expect.ContainsKey(Target.Id);

    /// <summary>Signatures the target shows and its base does not (unlisted targets only).</summary>
    public IReadOnlyList<string> New => Listed || BaseResult is null ? [] : [.. Result.Signatures.Except(BaseResult.Signatures).Order(StringComparer.Ordinal)];

    /// <summary>Signatures the base shows and the target does not (unlisted targets only).</summary>
    public IReadOnlyList<string> Fixed => Listed || BaseResult is null ? [] : [.. BaseResult.Signatures.Except(Result.Signatures).Order(StringComparer.Ordinal)];

    public bool? AsExpected =>
        Entry.Expect.TryGetValue(Target.Id, out var expected) ? expected.SetEquals(Result.Signatures)
        : BaseResult is not null ? New.Count == 0
        : null;
}

/// <summary>Runs every corpus entry on every chosen target (and, for the targets an entry does
/// not list, on their bases).</summary>
public static class CorpusReplay
{
    /// <param name="bases">Where unlisted targets are compared; null judges listed targets only.</param>
    /// <param name="container">The container every entry runs on; null: each entry's own.</param>
    public static IReadOnlyList<ReplayCell> Run(IEnumerable<CorpusEntry> entries, TargetCatalog catalog,
        IReadOnlyList<string> targetIds, RunOptions options, TargetBases? bases = null, ContainerChoice? container = null)
    {
        var cells = new List<ReplayCell>();
        var infos = targetIds.Select(catalog.Info).ToArray();
        foreach (var entry in entries)
        {
            // Each target runs once per entry, bases included, whichever cell asks first.
            var results = new Dictionary<string, RunResult>();
            var entryOptions = options with { Container = container ?? entry.Container };
            RunResult On(string id) => results.TryGetValue(id, out var r) ? r
                : results[id] = new ProgramRunner(entry.Profile, () => catalog.Create(id), entryOptions).Run(entry.Program);
            foreach (var info in infos)
            {
                var result = On(info.Id);
                string? baseId = entry.Expect.ContainsKey(info.Id) ? null : bases?.BaseOf(info.Id);
                cells.Add(baseId is null ? new ReplayCell(entry, info, result) : new ReplayCell(entry, info, result, baseId, On(baseId)));
            }
        }
        return cells;
    }
}
