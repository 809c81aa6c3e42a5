using System.Diagnostics;
using VfioFuzz.Cli;
using VfioFuzz.Fuzzing;
using VfioFuzz.Machine;
using VfioFuzz.Running;
using Xunit;

namespace VfioFuzz.Tests;

/// <summary>The supervisor of engine processes: an instance that exits is offered for a
/// restart with its exit code (the guided engine restarts one that saved a hang), and the
/// campaign ends when no instance is left running.</summary>
public sealed class EngineSupervisorTests() : TempFolder("supervisor")
{
    [Fact]
    public void An_exited_instance_is_offered_for_a_restart_with_its_exit_code_and_its_replacement_runs()
    {
        var profile = Profile.VrCxlType2;
        var store = new FindingStore(Path.Combine(Dir, "findings"));
        var run = new EngineRun("qemu-11.0", profile, TimeSpan.FromSeconds(30), Resume: false, Instances: 1, store,
            new Triage(profile, "qemu-11.0", new ProgramRunner(profile, () => Repo.Catalog.Create("qemu-11.0")), store, "test"),
            new ProgressLine(live: false), UntilFirstFinding: false);
        static ProcessStartInfo Shell(string script)
        {
            var psi = new ProcessStartInfo("sh");
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(script);
            return psi;
        }
        string marker = Path.Combine(Dir, "replacement-ran");
        var offered = new List<(int Instance, int ExitCode)>();
        bool ended = new EngineSupervisor(run, Path.Combine(Dir, "engine.log")).Supervise(
            [Shell($"exit {GuidedHang.ExitCode}")], DateTime.UtcNow + TimeSpan.FromSeconds(30), () => [], () => "", CancellationToken.None,
            (instance, exitCode) =>
            {
                offered.Add((instance, exitCode));
                return exitCode == GuidedHang.ExitCode ? Shell($"touch '{marker}'") : null;
            });
        Assert.True(ended, "the supervisor had to kill its instances");
        Assert.Equal([(0, GuidedHang.ExitCode), (0, 0)], offered);
        Assert.True(File.Exists(marker), "the replacement instance did not run");
    }
}
