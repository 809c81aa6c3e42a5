namespace VfioFuzz.Cli;

/// <summary>
/// How a fuzz command spends the budget the user typed. By default `--duration` is the
/// whole command's wall clock: the campaigns share it (targets one after another, or
/// `parallel` at a time), each started campaign getting an equal share of what is left, less
/// a reserve for triage and its report. With `--per-target` every campaign gets the whole
/// duration (the command then takes about duration x rounds).
/// </summary>
sealed class CampaignPlan(TimeSpan budget, bool perTarget, int targets, int parallel, TimeSpan minimumSlice)
{
    /// <summary>The least an AFL++ or libFuzzer campaign gets: the engine needs a few seconds
    /// to start the driver and calibrate; below that it would find nothing at all.</summary>
    public static readonly TimeSpan EngineMinimum = TimeSpan.FromSeconds(5);

    readonly DateTime _start = DateTime.UtcNow;
    int _started;

    public int Rounds => (targets + parallel - 1) / parallel;

    /// <summary>When the whole command should be done.</summary>
    public DateTime Deadline => _start + (perTarget ? budget * Rounds : budget);

    /// <summary>The planned share of one campaign, as printed before anything runs.</summary>
    public TimeSpan PlannedSlice => perTarget ? budget : Max(minimumSlice, Fuzzing(budget / Rounds));

    /// <summary>The budget of the campaign starting now: its share of the time left.</summary>
    public TimeSpan NextSlice()
    {
        if (perTarget) return budget;
        int started = Interlocked.Increment(ref _started) - 1;
        int roundsLeft = Math.Max(1, Rounds - started / parallel);
        return Max(minimumSlice, Fuzzing((Deadline - DateTime.UtcNow) / roundsLeft));
    }

    /// <summary>A slice less what triage of the last crashes and the report take (a tenth, at most 5 s).</summary>
    static TimeSpan Fuzzing(TimeSpan slice) => slice - Min(slice / 10, TimeSpan.FromSeconds(5));

    public string Describe() => perTarget
        ? $"{Seconds(budget)} per target ({Rounds} round(s), about {Seconds(budget * Rounds)} in all)"
        : $"{Seconds(budget)} in all: about {Seconds(PlannedSlice)} per target, {Rounds} round(s) of up to {parallel}" +
          (!perTarget && Fuzzing(budget / Rounds) < minimumSlice
              ? $"; the budget is too small for {targets} target(s): each campaign gets the engine's minimum {Seconds(minimumSlice)}, about {Seconds(minimumSlice * Rounds)} in all"
              : "");

    public static string Seconds(TimeSpan t) => t.TotalSeconds >= 120 ? $"{t.TotalMinutes:0.#}m" : t.TotalSeconds >= 10 ? $"{t.TotalSeconds:0}s" : $"{t.TotalSeconds:0.#}s";

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
