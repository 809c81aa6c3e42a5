namespace VfioFuzz.Iommufd;

/// <summary>
/// A differential run's real kernel and simulator answered one call differently. The runner
/// turns it into a backend-divergence finding and ends the run there: after it the two IOASes
/// no longer hold the same thing, so later answers would differ for that reason alone.
/// </summary>
/// <param name="Difference">What differs, as signature parts: map:EFAULT-vs-OK, unmap:length,
/// map:areas, domain:not-mapped.</param>
/// <param name="Call">The call, with its arguments.</param>
public sealed class BackendDivergenceException(string difference, string call, string detail)
    : Exception($"{call}: {detail}")
{
    public string Difference { get; } = difference;
    public string Call { get; } = call;
    public string Detail { get; } = detail;
}
