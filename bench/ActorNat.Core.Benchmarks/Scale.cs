using System.Diagnostics;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;

namespace ActorNat.Core.Benchmarks;

/// <summary>
/// How Core's cost grows with the table: for each size N, N new UDP flows into an empty engine (new flows/s while
/// the table grows to N), then one packet of each (established verdicts/s at N live entries), and the managed heap
/// per live entry (after a full collection). One thread, the article's configuration, state in memory: the local
/// backend's engine without gRPC.
///
///   dotnet run -c Release --project bench/ActorNat.Core.Benchmarks -- scale 10000 100000 1000000
/// </summary>
public static class Scale
{
    public static void Run(IEnumerable<int> sizes)
    {
        Console.WriteLine($"{"entries",10} {"new flows/s",14} {"established/s",14} {"heap B/entry",13}");
        foreach (var n in sizes)
        {
            // Distinct client ip:port per flow towards 250 servers, so every port is kept (the kernel anchor's case).
            var flows = new Packet[n];
            for (int i = 0; i < n; i++)
                flows[i] = new Packet(new FiveTuple(Protocol.Udp, new IPv4(0xAC120000u + 2 + (uint)(i / 50000)),
                    new IPv4(0xC0000201u + (uint)(i % 250)), (ushort)(1024 + i % 50000), 53));
            long before = Heap();
            var engine = CoreBenchmarks.Article(n);
            var sw = Stopwatch.StartNew();
            foreach (var p in flows) engine.Process(p);
            double created = n / sw.Elapsed.TotalSeconds;
            if (engine.Table.Count != n) throw new InvalidOperationException($"{engine.Table.Count} entries, expected {n}");
            sw.Restart();
            foreach (var p in flows) engine.Process(p);
            double established = n / sw.Elapsed.TotalSeconds;
            long after = Heap();
            GC.KeepAlive(engine);
            Console.WriteLine($"{n,10} {created,14:N0} {established,14:N0} {(after - before) / (double)n,13:F0}");
        }
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(true);
    }
}
