using System.Diagnostics;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>
/// kill -9 of the CLI leaves no afl-fuzz, libFuzzer bridge or fuzz driver running: the CLI
/// runs no code when SIGKILLed, so only the kernel's PR_SET_PDEATHSIG (setpriv, and the
/// bridge's own prctl) can take its children along. These runs build the instrumented driver
/// and install the engine's Debian packages on first use, as the main job does.
/// </summary>
public sealed class OrphanTests() : TempFolder("orphans")
{
    [Theory]
    [InlineData("afl", 1)]
    [InlineData("libfuzzer", 2)]   // fork mode: libFuzzer's workers and their drivers too
    public void Killing_the_cli_with_sigkill_leaves_no_engine_process(string engine, int jobs)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        foreach (var a in new[] { Repo.CliDll, "fuzz", "--engine", engine, "--jobs", jobs.ToString(), "--target", "nv-cdf5e75", "--duration", "10m",
                     "--findings", Path.Combine(Dir, "findings"), "--reports", Path.Combine(Dir, "reports") })
            psi.ArgumentList.Add(a);
        using var cli = Process.Start(psi)!;
        try { KillAndCheck(cli, engine, jobs); }
        finally
        {
            if (!cli.HasExited) cli.Kill(entireProcessTree: true);   // a failed assertion leaves no campaign behind
        }
    }

    static void KillAndCheck(Process cli, string engine, int jobs)
    {
        _ = cli.StandardError.ReadToEndAsync();
        string? line;
        // The first progress line with executions: the engine and its driver(s) are running.
        while ((line = cli.StandardOutput.ReadLine()) is not null && !(line.Contains(" exec/s: ") && !line.Contains("#0 ")))
            if (cli.HasExited) break;
        Assert.True(line is not null, $"the {engine} campaign never reported executions");
        // The engine, its driver, and in libFuzzer's fork mode the workers (under `sh -c`).
        string engineName = engine == "afl" ? "afl-fuzz" : "libfuzzer-bridge"[..15];   // comm is cut at 15 characters
        int wanted = engine == "afl" ? 1 : 1 + jobs;
        List<(int Pid, string Name)> descendants;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        do
        {
            Thread.Sleep(500);
            descendants = Descendants(cli.Id);
        } while (descendants.Count(p => p.Name == engineName) < wanted && DateTime.UtcNow < until);
        Assert.True(descendants.Count(p => p.Name == engineName) >= wanted, $"expected {wanted} {engineName}, saw {string.Join(", ", descendants.Select(p => p.Name))}");
        Assert.Contains("dotnet", descendants.Select(p => p.Name));   // the driver

        cli.Kill(entireProcessTree: false);   // SIGKILL to the CLI alone
        cli.WaitForExit();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        List<(int Pid, string Name)> alive;
        do
        {
            Thread.Sleep(200);
            alive = descendants.Where(p => StillRunning(p.Pid, p.Name)).ToList();
        } while (alive.Count > 0 && DateTime.UtcNow < deadline);
        foreach (var (pid, _) in alive)
            try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
        Assert.True(alive.Count == 0, $"left running after kill -9 of the CLI: {string.Join(", ", alive.Select(p => $"{p.Name}[{p.Pid}]"))}");
    }

    /// <summary>Every process below <paramref name="root"/> now, from /proc (pid, comm).</summary>
    static List<(int Pid, string Name)> Descendants(int root)
    {
        var parents = new Dictionary<int, (int Parent, string Name)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out int pid) && Stat(pid) is { } s) parents[pid] = s;
        var result = new List<(int, string)>();
        var frontier = new Queue<int>([root]);
        while (frontier.Count > 0)
        {
            int p = frontier.Dequeue();
            foreach (var (child, (parent, name)) in parents)
                if (parent == p) { result.Add((child, name)); frontier.Enqueue(child); }
        }
        return result;
    }

    static (int Parent, string Name)? Stat(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            return fields[0] == "Z" ? null : (int.Parse(fields[1]), stat[(open + 1)..close]);
        }
        catch (IOException) { return null; }
    }

    static bool StillRunning(int pid, string name) => Stat(pid) is { } s && s.Name == name;
}
