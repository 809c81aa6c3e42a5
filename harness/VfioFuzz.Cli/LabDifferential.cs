using System.Diagnostics;

namespace VfioFuzz.Cli;

/// <summary>
/// The nightly's short differential run against a real kernel: `harness/lab/run fuzz
/// --if-cached`, which boots the lab guest only when its kernel is already built (building
/// one takes minutes and is the lab's own job). Its LAB-FUZZ lines are passed through; the
/// outcome goes into the nightly summary.
/// </summary>
static class LabDifferential
{
    public static readonly TimeSpan Budget = TimeSpan.FromMinutes(2);

    /// <param name="Status">skipped, agree, diverged or error.</param>
    public sealed record Outcome(string Status, string Detail);

    public static Outcome Run(ulong seed, CancellationToken cancel)
    {
        string? root = FuzzDriverBuild.FindRepoRoot();
        if (root is null) return new("skipped", "not run from a vfio-fuzz checkout");
        string script = Path.Combine(root, "harness", "lab", "run");
        if (!OperatingSystem.IsLinux() || !File.Exists(script)) return new("skipped", "no harness/lab/run here");
        var psi = new ProcessStartInfo(script, ["fuzz", "--if-cached", "--duration", $"{(int)Budget.TotalSeconds}s", "--seed", (seed % 1_000_000_000).ToString()])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Console.WriteLine($"nightly: the lab's differential run ({CampaignPlan.Seconds(Budget)} against the lab kernel, if it is built)");
        using var p = Process.Start(psi)!;
        string? total = null, skipped = null;
        void Show(string? line)
        {
            if (line is null) return;
            if (line.StartsWith("LAB-FUZZ total:", StringComparison.Ordinal)) total = line["LAB-FUZZ ".Length..];
            if (line.Contains("differential run skipped", StringComparison.Ordinal)) skipped = line;
            if (line.StartsWith("LAB-FUZZ", StringComparison.Ordinal) || line.StartsWith("lab: ", StringComparison.Ordinal)) Console.WriteLine($"  {line}");
        }
        p.OutputDataReceived += (_, e) => Show(e.Data);
        p.ErrorDataReceived += (_, e) => Show(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using (cancel.Register(() => { try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } }))
            p.WaitForExit();
        return (p.ExitCode, skipped, total) switch
        {
            (0, { } why, _) => new("skipped", why["lab: ".Length..]),
            (0, _, { } t) => new("agree", t),
            (1, _, { } t) => new("diverged", t + " (reproducers in harness/lab/out/results/fuzz/findings/)"),
            var (code, _, _) => new("error", $"harness/lab/run fuzz exited {code} (its console: harness/lab/out/console.log)"),
        };
    }
}
