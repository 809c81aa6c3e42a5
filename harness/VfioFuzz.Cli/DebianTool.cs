using System.Diagnostics;

namespace VfioFuzz.Cli;

/// <summary>External programs the engines need: found on PATH, installed from Debian's
/// packages when running as root, otherwise a one-line error naming the package.</summary>
static class DebianTool
{
    /// <summary>Null when <paramref name="present"/> holds (now), else the error to print.</summary>
    public static string? Ensure(string what, Func<bool> present, params string[] packages)
    {
        if (present()) return null;
        string list = string.Join(' ', packages);
        bool canInstall = Environment.UserName == "root" && File.Exists("/etc/debian_version");
        if (!canInstall) return $"{what} not found: install the Debian package(s) {list} (sudo apt-get install {list})";
        Console.WriteLine($"fuzz: installing {list} (apt-get)");
        if (Exec("apt-get", "update -qq") != 0 || Exec("apt-get", $"install -y -qq --no-install-recommends {list}") != 0 || !present())
            return $"could not install the Debian package(s) {list} with apt-get";
        return null;
    }

    public static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    public static int Exec(string file, string args, string? cwd = null)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = cwd ?? Environment.CurrentDirectory };
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        return p.ExitCode;
    }
}
