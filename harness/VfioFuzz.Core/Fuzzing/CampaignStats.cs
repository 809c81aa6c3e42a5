namespace VfioFuzz.Fuzzing;

/// <summary>What a campaign has done so far: the numbers its progress line prints.</summary>
public sealed record CampaignStats(string Target, long Execs, TimeSpan Elapsed, TimeSpan Budget,
    int NewFindings, int KnownFindings, IReadOnlyDictionary<string, int> ByKind)
{
    public static CampaignStats Of(string target, long execs, TimeSpan elapsed, TimeSpan budget, IReadOnlyList<CampaignFinding> findings) =>
        new(target, execs, elapsed, budget, findings.Count(f => !f.Known), findings.Count(f => f.Known),
            findings.GroupBy(f => f.Finding.Kind).ToDictionary(g => g.Key, g => g.Count()));

    public double ExecsPerSecond => Elapsed.TotalSeconds > 0 ? Execs / Elapsed.TotalSeconds : 0;

    /// <summary>One line a person and a script can both read, in the spirit of libFuzzer's.</summary>
    public string Line() =>
        $"[{Target}] #{Execs} exec/s: {ExecsPerSecond:0} findings: {NewFindings} new, {KnownFindings} known " +
        $"({string.Join(", ", ByKind.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))}) " +
        $"elapsed: {Elapsed.TotalSeconds:0}s remaining: {Math.Max(0, (Budget - Elapsed).TotalSeconds):0}s";
}
