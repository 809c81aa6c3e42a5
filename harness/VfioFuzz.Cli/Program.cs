using System.CommandLine;
using VfioFuzz.Cli;

// vfio-fuzz: one CLI for every command. Exit codes: 0 = as expected, 1 = findings or
// unexpected results, 2 = usage or input errors.
var root = new RootCommand("vfio-fuzz: a kernel-boundary fuzzing and regression harness for QEMU VFIO listener patches")
{
    FuzzCommand.Create(),
    ReplayCommand.Create(),
    RunCommand.Create(),
    TargetsCommand.Create(),
    ConformanceCommand.Create(),
    ImportTraceCommand.Create(),
    GateCommand.Create(),
    BisectCommand.Create(),
    BenchCommand.Create(),
};
return root.Parse(args).Invoke();
