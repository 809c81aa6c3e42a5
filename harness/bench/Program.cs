using BenchmarkDotNet.Running;

// dotnet run -c Release --project harness/bench -- --filter '*'   (BenchmarkDotNet's own CLI)
BenchmarkSwitcher.FromAssembly(typeof(VfioFuzz.Bench.HotPathBenchmarks).Assembly).Run(args);
