using System.Diagnostics;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>
/// Several boxes without ClusterFuzz: AFL++'s own sync folder. Two CLIs join one folder, one as
/// `box2` (AFL++ -S box2) and one as `main` (-M), as two machines sharing it over NFS would. The
/// CLI has AFL++ import the folder's queues before it fuzzes (AFL_IMPORT_FIRST), so a box that
/// joins after another has worked starts from that work: AFL++ names each imported entry
/// `sync:&lt;box&gt;` in the importer's queue.
/// </summary>
public sealed class AflSyncTests() : TempFolder("aflsync")
{
    void Run(string name, string duration)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        foreach (var a in new[] { Repo.CliDll, "fuzz", "--target", "qemu-11.0", "--duration", duration, "--afl-sync", Path.Combine(Dir, "sync"),
                     "--afl-name", name, "--findings", Path.Combine(Dir, "findings"), "--reports", Path.Combine(Dir, "reports") })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(180_000), $"{name}: the campaign did not end");
        Assert.True(p.ExitCode is 0 or 1, $"{name}: exit {p.ExitCode}\n{output.Result}\n{errors.Result}");
    }

    [Fact]
    public void A_box_joining_the_sync_folder_imports_the_queue_another_box_left()
    {
        // box2 works alone first, then main joins: no timing between two live instances decides
        // the outcome (AFL++ 4.04c's main syncs from every box, running or not).
        Run("box2", "15s");
        string sync = Path.Combine(Dir, "sync");
        var found = Directory.EnumerateFiles(Path.Combine(sync, "box2", "queue"), "id:*").Count(f => !Path.GetFileName(f).Contains("orig:"));
        Assert.True(found > 0, "box2 found no queue entry of its own in 15 s");

        Run("main", "10s");
        var imported = Directory.EnumerateFiles(Path.Combine(sync, "main", "queue"), "id:*").Count(f => Path.GetFileName(f).Contains("sync:box2"));
        Assert.True(imported > 0, $"main imported none of box2's {found} queue entries");
    }
}
