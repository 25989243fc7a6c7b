using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/ActorNat.Core.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(ActorNat.Core.Benchmarks.CoreBenchmarks).Assembly).Run(args);
