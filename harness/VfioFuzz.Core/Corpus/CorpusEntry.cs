using System.Collections.Immutable;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Programs;

namespace VfioFuzz.Corpus;

/// <summary>
/// A reproducer: a program on a profile (and the container interface it runs on: iommufd
/// unless it says type1 or both), why it matters, and per target the exact set of finding
/// signatures it must produce (empty = must pass). Targets it does not name are run and shown
/// but not judged.
/// </summary>
public sealed record CorpusEntry(
    string Path,
    string Id,
    string Description,
    Profile Profile,
    FuzzProgram Program,
    ImmutableArray<long> OpLines,
    ImmutableDictionary<string, ImmutableSortedSet<string>> Expect,
    ContainerChoice Container = ContainerChoice.Iommufd)
{
    public bool Judges(string targetId) => Expect.ContainsKey(targetId);
}
