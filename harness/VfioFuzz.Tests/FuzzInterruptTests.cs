using System.Diagnostics;
using System.Runtime.InteropServices;
using VfioFuzz.Corpus;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>A campaign killed with SIGINT or SIGTERM stops promptly, keeps every reproducer it
/// saved (each parses and replays to its signature), leaves no temporary files behind, and
/// writes its report marked complete: false.</summary>
public sealed class FuzzInterruptTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), $"vfio-fuzz-interrupt-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [DllImport("libc", EntryPoint = "kill")]
    static extern int Kill(int pid, int signal);

    [Theory]
    [InlineData(15)]   // SIGTERM
    [InlineData(2)]    // SIGINT
    public void Killed_campaign_keeps_its_reproducers_and_a_partial_report(int signal)
    {
        string findings = Path.Combine(_dir, "findings"), reports = Path.Combine(_dir, "reports");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Repo.CliDll, "fuzz", "--engine", "inprocess", "--target", "nv-cdf5e75", "--duration", "10m", "--seed", "3",
                     "--findings", findings, "--reports", reports })
            psi.ArgumentList.Add(a);
        using var cli = Process.Start(psi)!;
        string? line;
        // The first progress line comes after the first findings are saved or 5 s, whichever is later.
        while ((line = cli.StandardOutput.ReadLine()) is not null && !line.StartsWith("[nv-cdf5e75] #")) { }
        Assert.NotNull(line);
        Assert.Equal(0, Kill(cli.Id, signal));
        string rest = cli.StandardOutput.ReadToEnd();
        Assert.True(cli.WaitForExit(30_000), "the campaign did not stop within 30 s of the signal");

        Assert.Contains("interrupted", rest);
        Assert.Equal(1, cli.ExitCode);   // it found signatures new to this (empty) store
        var saved = Directory.GetFiles(findings, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(saved);
        Assert.All(saved, f => Assert.EndsWith(".yaml", f));   // no temporary file survived
        foreach (var file in saved)
        {
            var entry = CorpusFile.Load(file, Repo.Catalog.Targets.Select(t => t.Id).ToArray());
            var cell = Assert.Single(CorpusReplay.Run([entry], Repo.Catalog, ["nv-cdf5e75"], Running.RunOptions.Default));
            Assert.True(cell.AsExpected, $"{file} does not replay to what it recorded");
        }
        string report = Assert.Single(Directory.GetFiles(reports, "nv-cdf5e75.yaml", SearchOption.AllDirectories));
        Assert.Contains("complete: false", File.ReadAllText(report));
    }
}
