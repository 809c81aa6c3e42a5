using System.Reflection;
using VfioFuzz.Listener;
using VfioFuzz.Targets;

namespace VfioFuzz.Cli;

/// <summary>What every command shares: the target catalog and the exit codes.</summary>
static class Cli
{
    public const int Ok = 0;
    public const int Findings = 1;
    public const int InputError = 2;
    public const int InternalError = 3;

    public static TargetCatalog Catalog { get; } = new(typeof(Qemu110).Assembly);

    /// <summary>Prints a one-line error to stderr and returns the input-error exit code.</summary>
    public static int Fail(string message, int exitCode = InputError)
    {
        Console.Error.WriteLine($"vfio-fuzz: {message}");
        return exitCode;
    }
}
