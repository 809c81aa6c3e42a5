namespace VfioFuzz.Listener;

/// <summary>What a target models: its id, the branch it lives on, the patch SHAs whose
/// combined state it represents (most recent last, each as far as it is published: NVIDIA's
/// are known by their short form only and are never padded), whether that state is upstream,
/// a commit that exists, or a proposal no commit implements, and where that is known from.</summary>
public sealed record TargetInfo(string Id, string Branch, IReadOnlyList<string> Patches, string Summary,
    TargetKind Kind = TargetKind.Commit, string Provenance = "")
{
    public string KindName => Kind switch { TargetKind.Upstream => "upstream", TargetKind.Proposal => "proposal", _ => "commit" };
}

/// <summary>Upstream QEMU; a commit on a branch; or a proposal (a review comment, an RFC)
/// that no commit implements: its patches are the commits it would sit on.</summary>
public enum TargetKind { Upstream, Commit, Proposal }
