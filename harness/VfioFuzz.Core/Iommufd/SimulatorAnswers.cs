namespace VfioFuzz.Iommufd;

/// <summary>The calls the simulator answered alone in a differential run because the kernel
/// has no such call, by ioctl name (shared by every IOAS of a campaign, and its threads).</summary>
public sealed class SimulatorAnswers
{
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _counts = new();

    public void Add(string ioctl) => _counts.AddOrUpdate(ioctl, 1, (_, n) => n + 1);

    public IReadOnlyDictionary<string, long> Counts => _counts;

    public override string ToString() => _counts.IsEmpty ? "none" : string.Join(", ", _counts.OrderBy(c => c.Key).Select(c => $"{c.Key} ({c.Value} calls)"));
}
