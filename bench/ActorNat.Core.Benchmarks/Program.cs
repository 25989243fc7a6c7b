using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/ActorNat.Core.Benchmarks -- --filter '*'
// dotnet run -c Release --project bench/ActorNat.Core.Benchmarks -- scale 10000 100000 1000000
if (args.Length > 0 && args[0] == "scale")
{
    ActorNat.Core.Benchmarks.Scale.Run(args.Skip(1).Select(int.Parse));
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(ActorNat.Core.Benchmarks.CoreBenchmarks).Assembly).Run(args);
