using System.Diagnostics;

namespace VfioFuzz.Tests;

/// <summary>The built CLI run as a process from the repository root, as a user runs it.</summary>
static class CliProcess
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr);

    public static Outcome Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        psi.ArgumentList.Add(Repo.CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"vfio-fuzz {string.Join(' ', args)} did not finish in 120 s");
        }
        return new Outcome(p.ExitCode, stdout.Result, stderr.Result);
    }
}
