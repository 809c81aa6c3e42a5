using VfioFuzz.Listener;
using VfioFuzz.Running;

namespace VfioFuzz.Corpus;

/// <summary>One entry on one target: what happened and whether it matched the expectation
/// (null when the entry does not judge that target).</summary>
public sealed record ReplayCell(CorpusEntry Entry, TargetInfo Target, RunResult Result)
{
    public bool? AsExpected => Entry.Expect.TryGetValue(Target.Id, out var expected)
        ? expected.SetEquals(Result.Signatures)
        : null;
}

/// <summary>Runs every corpus entry on every chosen target.</summary>
public static class CorpusReplay
{
    public static IReadOnlyList<ReplayCell> Run(IEnumerable<CorpusEntry> entries, TargetCatalog catalog,
        IReadOnlyList<string> targetIds, RunOptions options)
    {
        var cells = new List<ReplayCell>();
        var infos = targetIds.Select(catalog.Info).ToArray();
        foreach (var entry in entries)
            foreach (var info in infos)
            {
                var runner = new ProgramRunner(entry.Profile, () => catalog.Create(info.Id), options);
                cells.Add(new ReplayCell(entry, info, runner.Run(entry.Program)));
            }
        return cells;
    }
}
