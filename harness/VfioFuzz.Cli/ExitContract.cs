using System.CommandLine;
using System.CommandLine.Parsing;
using System.Reflection;

namespace VfioFuzz.Cli;

/// <summary>
/// The exit-code contract every command keeps: 0 as expected; 1 findings or unexpected
/// results; 2 usage or input error, one line on stderr (`file:line: message` when a file is
/// involved); 3 an internal error, one line naming the log file that holds the stack trace.
/// No stack trace, help text or .NET type name reaches the terminal on bad input: parse errors
/// are rewritten here, input exceptions from anywhere below become exit 2, anything else is
/// logged and becomes exit 3 (including an exception on a thread of our own).
/// </summary>
static class ExitContract
{
    public static int Run(string[] args)
    {
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            // A background thread's exception ends the process; make it end as exit 3 with a log.
            Console.Out.Flush();
            Environment.Exit(Failed(e.ExceptionObject as Exception ?? new Exception(e.ExceptionObject?.ToString()), args));
        };
        try
        {
            var root = Commands();
            var parse = root.Parse(args);
            if (UsageError(parse) is { } usage)
                return Cli.Fail(CommandPath(parse) is { Length: > 0 } path
                    ? $"{usage} (vfio-fuzz {path} --help lists the options)"
                    : $"{usage} (commands: {string.Join(", ", root.Subcommands.Select(c => c.Name))}; vfio-fuzz --help describes them)");
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return Failed(e, args);
        }
    }

    static RootCommand Commands() => new("vfio-fuzz: a kernel-boundary fuzzing and regression harness for QEMU VFIO listener patches")
    {
        FuzzCommand.Create(),
        ReplayCommand.Create(),
        RunCommand.Create(),
        TargetsCommand.Create(),
        ConformanceCommand.Create(),
        RealQemuCommand.Create(),
        ImportTraceCommand.Create(),
        GateCommand.Create(),
        BisectCommand.Create(),
        BenchCommand.Create(),
        SeedsCommand.Create(),
        TriageCommand.Create(),
    };

    /// <summary>The first thing wrong with the command line, as one line, or null. Besides the
    /// parser's own errors: a token starting with '-' taken as a positional argument is an
    /// unknown option (the parser hands `replay corpus --bogus` to the paths argument).</summary>
    static string? UsageError(ParseResult parse)
    {
        // An unknown word explains a missing command better than "command required" does.
        foreach (var error in parse.Errors.OrderBy(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal) ? 0 : 1))
            return error.SymbolResult is OptionResult { Option: var option } result && result.Tokens.Count > 0 && error.Message.StartsWith("Cannot parse", StringComparison.Ordinal)
                ? $"{option.Name}: '{result.Tokens[0].Value}' is not {Expected(option.ValueType)}"
                : error.Message.TrimEnd('.');
        for (SymbolResult? r = parse.CommandResult; r is not null; r = r.Parent)
            if (r is CommandResult command)
                foreach (var argument in command.Children.OfType<ArgumentResult>())
                    foreach (var token in argument.Tokens)
                        if (token.Value.Length > 1 && token.Value[0] == '-')
                            return $"unknown option '{token.Value}'";
        return null;
    }

    /// <summary>What a value of this type looks like, in words (never the .NET type name).</summary>
    static string Expected(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t when t == typeof(ulong) || t == typeof(uint) => "a whole number of 0 or more",
        var t when t == typeof(bool) => "true or false",
        _ => "a valid value",
    };

    static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var c = parse.CommandResult; c.Parent is CommandResult parent; c = parent) names.Insert(0, c.Command.Name);
        return names.Count == 0 ? "" : string.Join(' ', names);
    }

    /// <summary>Input errors raised anywhere below (a bad file, a run that cannot start) are
    /// exit 2; anything else is our own failure: exit 3, stack trace in a log file.</summary>
    static int Failed(Exception e, string[] args) => Cli.Fail(Describe(e, args), ExitCodeOf(e));

    /// <summary>2 for bad input, 3 for anything else (an internal error wins over input errors
    /// when several exceptions come back together).</summary>
    public static int ExitCodeOf(Exception e) => Unwrap(e) is InputException ? Cli.InputError : Cli.InternalError;

    /// <summary>One line for an exception: an input error's own message, or for our own
    /// failure "internal error: ..." naming the log file its stack trace was written to.</summary>
    public static string Describe(Exception e, string[]? args = null)
    {
        e = Unwrap(e);
        if (e is InputException input) return input.Message;
        string log = WriteLog(e, args ?? Environment.GetCommandLineArgs()[1..]);
        return $"internal error: {FirstLine(e.Message)} (stack trace in {log}; please report it with that file)";
    }

    /// <summary>The exception that matters inside wrappers (Parallel.For, reflection).</summary>
    static Exception Unwrap(Exception e)
    {
        while (e is AggregateException or TargetInvocationException && e.InnerException is { } inner)
        {
            var aggregate = e as AggregateException;
            e = aggregate?.Flatten().InnerExceptions.FirstOrDefault(x => x is not InputException) ?? inner;
        }
        return e;
    }

    static string FirstLine(string text) => text.Split('\n')[0].Trim();

    /// <summary>The crash log: .vfio-fuzz/logs/ in the checkout when writable, else the temp folder.</summary>
    static string WriteLog(Exception e, string[] args)
    {
        string name = $"crash-{DateTime.UtcNow:yyyyMMddTHHmmssfffZ}-{Environment.ProcessId}.log";
        string text = $"vfio-fuzz {Reports.ReportWriter.ToolVersion}\nargs: {string.Join(' ', args)}\ncwd: {Environment.CurrentDirectory}\n\n{e}\n";
        foreach (var dir in new[] { FuzzDriverBuild.FindRepoRoot() is { } root ? Path.Combine(root, ".vfio-fuzz", "logs") : null, Path.GetTempPath() })
        {
            if (dir is null) continue;
            try
            {
                Directory.CreateDirectory(dir);
                string path = Path.Combine(dir, name);
                File.WriteAllText(path, text);
                return path;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
        return "(no writable folder for the log)";
    }
}
