namespace VfioFuzz.Listener;

/// <summary>What a target models: its id, the branch it lives on, the patch SHAs whose
/// combined state it represents (most recent last, each as far as it is published: NVIDIA's
/// are known by their short form only and are never padded), whether that state is upstream,
/// a commit that exists, or a proposal no commit implements, and where that is known from; and
/// the one container interface it has, when it lacks the other (QEMU before iommufd: type1).</summary>
public sealed record TargetInfo(string Id, string Branch, IReadOnlyList<string> Patches, string Summary,
    TargetKind Kind = TargetKind.Commit, string Provenance = "", ContainerKind? OnlyContainer = null)
{
    /// <summary>Whether a run can put this target on <paramref name="kind"/>.</summary>
    public bool Has(ContainerKind kind) => OnlyContainer is null || OnlyContainer == kind;

    public string KindName => Kind switch { TargetKind.Upstream => "upstream", TargetKind.Proposal => "proposal", TargetKind.Planted => "planted", _ => "commit" };
}

/// <summary>Upstream QEMU; a commit on a branch; a proposal (a review comment, an RFC)
/// that no commit implements: its patches are the commits it would sit on; or a bug planted
/// on purpose for the bench's deep-bug measure (never offered to users).</summary>
public enum TargetKind { Upstream, Commit, Proposal, Planted }
