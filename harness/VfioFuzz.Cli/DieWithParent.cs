using System.Diagnostics;

namespace VfioFuzz.Cli;

/// <summary>
/// Engine processes must not outlive the CLI, even when it is killed with SIGKILL and runs no
/// code of its own: each is started through util-linux's `setpriv --pdeathsig KILL`, which
/// sets PR_SET_PDEATHSIG and execs the command, so the kernel kills it when its parent goes.
/// The chain continues below: AFL++ runs the driver through setpriv too, and libfuzzer-bridge
/// sets the same on itself and on its driver. PR_SET_PDEATHSIG follows the parent *thread*:
/// the supervisor starts and waits for its processes on one thread, which lives until they end.
/// </summary>
static class DieWithParent
{
    const string Setpriv = "setpriv";

    /// <summary>The command line prefix that makes a program die with its parent.</summary>
    public static readonly string[] Prefix = [Setpriv, "--pdeathsig", "KILL", "--"];

    /// <summary>The same start, through setpriv (util-linux, essential on Debian).</summary>
    public static ProcessStartInfo Wrap(ProcessStartInfo psi)
    {
        var wrapped = new ProcessStartInfo(Setpriv)
        {
            WorkingDirectory = psi.WorkingDirectory,
            RedirectStandardOutput = psi.RedirectStandardOutput,
            RedirectStandardError = psi.RedirectStandardError,
        };
        foreach (var a in Prefix[1..]) wrapped.ArgumentList.Add(a);
        wrapped.ArgumentList.Add(psi.FileName);
        foreach (var a in psi.ArgumentList) wrapped.ArgumentList.Add(a);
        foreach (var (k, v) in psi.Environment) wrapped.Environment[k] = v;
        return wrapped;
    }
}
