namespace VfioFuzz.Cli;

/// <summary>
/// Progress output for long runs: on a terminal, with one campaign at a time, one live line
/// rewritten in place; otherwise (a log, or campaigns in parallel) a plain line every 5 s.
/// </summary>
sealed class ProgressLine(bool live)
{
    static readonly Lock Console_ = new();
    DateTime _last = DateTime.MinValue;

    public static ProgressLine For(int parallelCampaigns) =>
        new(live: !Console.IsOutputRedirected && parallelCampaigns == 1);

    public void Update(string line)
    {
        lock (Console_)
        {
            if (live) Console.Write($"\r{line}\u001b[K");
            else if (DateTime.UtcNow - _last >= TimeSpan.FromSeconds(5))
            {
                Console.WriteLine(line);
                _last = DateTime.UtcNow;
            }
        }
    }

    /// <summary>A line of its own (a new finding, the final stats), never overwritten.</summary>
    public void Print(string line)
    {
        lock (Console_)
        {
            if (live) Console.Write("\r\u001b[K");
            Console.WriteLine(line);
        }
    }
}
