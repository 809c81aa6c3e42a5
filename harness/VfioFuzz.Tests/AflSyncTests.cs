using System.Diagnostics;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>
/// Several boxes without ClusterFuzz: AFL++'s own sync folder. Two CLIs join one folder, one as
/// `main` (AFL++ -M) and one as `box2` (-S box2), as two machines sharing it over NFS would; the
/// instances import each other's queues (AFL++ notes an import from X in &lt;instance&gt;/.synced/X;
/// which side syncs first depends on AFL++'s schedule, so either direction shows the sharing).
/// </summary>
public sealed class AflSyncTests() : TempFolder("aflsync")
{
    // Both run long enough for one of them to sync the other: box2 syncs main when its own
    // start-up (seed triage, calibration) and first queue entries are done, which on a loaded
    // 2-core machine took more than 40 s once (CI of f34d0e8, with a lab guest beside it); main
    // syncs box2 after a few queue entries of its own, and with the op mutator's custom stage
    // beside havoc on every entry its 40 s no longer sufficed beside the rest of the test suite
    // (CI of e67feb4; by hand, main imported box2 within 30 s and box2 imported nothing in 100 s).
    Process Start(string name, string duration = "70s")
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        foreach (var a in new[] { Repo.CliDll, "fuzz", "--target", "qemu-11.0", "--duration", duration, "--afl-sync", Path.Combine(Dir, "sync"),
                     "--afl-name", name, "--findings", Path.Combine(Dir, "findings"), "--reports", Path.Combine(Dir, "reports") })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        return p;
    }

    [Fact]
    public void Two_instances_share_one_sync_folder()
    {
        using var main = Start("main");
        // AFL++ 4.04c syncs a secondary when it starts and then every AFL_SYNC_TIME (30 min by
        // default): box2 joins once main's queue has entries, as a box joining a running campaign does.
        string mainQueue = Path.Combine(Dir, "sync", "main", "queue");
        var until = DateTime.UtcNow.AddSeconds(150);
        while (!(Directory.Exists(mainQueue) && Directory.EnumerateFiles(mainQueue, "id:*").Any()) && !main.HasExited && DateTime.UtcNow < until)
            Thread.Sleep(250);
        using var box2 = Start("box2");
        Assert.True(main.WaitForExit(180_000) && box2.WaitForExit(180_000), "the campaigns did not end");
        Assert.Contains(main.ExitCode, new[] { 0, 1 });
        Assert.Contains(box2.ExitCode, new[] { 0, 1 });
        string sync = Path.Combine(Dir, "sync");
        Assert.True(Directory.Exists(Path.Combine(sync, "main", "queue")), "main instance has no queue");
        Assert.True(Directory.Exists(Path.Combine(sync, "box2", "queue")), "box2 instance has no queue");
        Assert.True(File.Exists(Path.Combine(sync, "box2", ".synced", "main")) || File.Exists(Path.Combine(sync, "main", ".synced", "box2")),
            "neither instance imported the other's queue");
    }
}
