namespace VfioFuzz.Listener;

/// <summary>What a target models: its id, the branch it lives on, and the patch SHAs whose
/// combined state it represents (most recent last).</summary>
public sealed record TargetInfo(string Id, string Branch, IReadOnlyList<string> Patches, string Summary);
