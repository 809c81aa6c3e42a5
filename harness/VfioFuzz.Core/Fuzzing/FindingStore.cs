using VfioFuzz.Corpus;
using VfioFuzz.Machine;
using VfioFuzz.Programs;
using VfioFuzz.Reports;

namespace VfioFuzz.Fuzzing;

/// <summary>
/// Minimized reproducers, one file per target and signature:
/// corpus/findings/&lt;target&gt;/&lt;signature with ':' as '--'&gt;.yaml. A signature that already has
/// a file is known; a new one is written atomically, so a killed campaign never leaves a torn
/// reproducer and a resumed one skips what it already saved.
/// </summary>
public sealed class FindingStore(string root)
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
        string text = CorpusFile.ToYaml($"{targetId}--{FileStem(signature)}", description, profile, program,
            new Dictionary<string, IReadOnlyCollection<string>> { [targetId] = signaturesOnTarget });
        AtomicFile.WriteAllText(path, text);
        return path;
    }
}
