namespace VfioFuzz.Tests;

/// <summary>
/// What upstream QEMU itself shows in this model, each read from its code: the only findings
/// the no-false-positive checks allow on qemu-11.0. Anything else on upstream is a false
/// positive of the harness.
/// </summary>
static class UpstreamFindings
{
    /// <summary>The CXL device cannot answer ATC invalidations while it resets, and upstream
    /// unmaps the DPA during a reset (the seed report's guest reboot; HdmDecoder.cs).</summary>
    public const string ResetTimeout = "timeout:atc-inv:cxl-type2";

    /// <summary>region_del's identity IOTLB entry passes the GPA where the dirty bitmap wants a
    /// ram_addr (DirtyTrackingOracle.Misattributed): on a machine whose RAM starts at 1 GiB
    /// (arm virt, every NVIDIA profile) a RAM section deleted during migration marks the wrong pages.</summary>
    public const string DirtyMisattributed = "dirty-lost:misattributed:guest-ram";

    /// <summary>A RamDiscardManager section's region_del discards its plugged blocks with no
    /// IOTLB entry, so their dirty bits are never read (DirtyTrackingOracle).</summary>
    public const string DirtyDiscardGap = "dirty-lost:upstream-gap:guest-ram";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { ResetTimeout, DirtyMisattributed, DirtyDiscardGap };
}
