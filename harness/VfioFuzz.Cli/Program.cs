using VfioFuzz.Cli;

// vfio-fuzz: one CLI for every command. The exit-code contract (README "Exit codes") lives in
// ExitContract: 0 as expected, 1 findings or unexpected results, 2 usage or input error,
// 3 the harness's own failure.
return ExitContract.Run(args);
