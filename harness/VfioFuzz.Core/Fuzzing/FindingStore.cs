using VfioFuzz.Corpus;
using VfioFuzz.Listener;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Reports;
using VfioFuzz.Running;

namespace VfioFuzz.Fuzzing;

/// <summary>
/// Minimized reproducers, one file per target and signature:
/// corpus/findings/&lt;target&gt;/&lt;signature with ':' as '--'&gt;.yaml. A signature that already has
/// a file is known; a new one is written atomically, so a killed campaign never leaves a torn
/// reproducer and a resumed one skips what it already saved. Built with a catalog, a saved
/// reproducer also records what every other target shows on it, so replaying it later judges
/// each of them against that (and a target added afterwards against its base). Reproducers
/// found on another container than iommufd say so, and run there when replayed.
/// </summary>
public sealed class FindingStore(string root, TargetCatalog? everyTarget = null, ContainerChoice container = ContainerChoice.Iommufd)
{
    public string Root { get; } = root;

    public string PathFor(string targetId, string signature) => Path.Combine(Root, targetId, FileStem(signature) + ".yaml");

    /// <summary>The signatures already saved for a target (the inverse of the file naming).</summary>
    public IEnumerable<string> KnownSignatures(string targetId)
    {
        string dir = Path.Combine(Root, targetId);
        return Directory.Exists(dir)
            ? Directory.GetFiles(dir, "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f).Replace("--", ":"))
            : [];
    }

    /// <summary>Signatures use ':' between parts and never contain "--", so the mapping inverts.</summary>
    static string FileStem(string signature) => signature.Replace(":", "--");

    public bool IsKnown(string targetId, string signature) => File.Exists(PathFor(targetId, signature));

    public string Save(string targetId, string signature, Profile profile, FuzzProgram program,
        IReadOnlyCollection<string> signaturesOnTarget, string description)
    {
        string path = PathFor(targetId, signature);
        var expect = new Dictionary<string, IReadOnlyCollection<string>>();
        foreach (var other in everyTarget?.Targets ?? [])
            if (other.Id != targetId)
                expect[other.Id] = new ProgramRunner(profile, () => everyTarget!.Create(other.Id), new RunOptions(Container: container))
                    .Run(program).Signatures.ToArray();
        expect[targetId] = signaturesOnTarget;
        string text = CorpusFile.ToYaml($"{targetId}--{FileStem(signature)}", description, profile, program, expect, container);
        AtomicFile.WriteAllText(path, text);
        return path;
    }
}
