using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using ActorNat.Cluster;
using ActorNat.Cluster.Hosting;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The actors' cost on one node, without gRPC: new flows/s and established verdicts/s through the cluster backend,
// and managed memory per live conntrack entry (active entities, then after idle entities passivated).
//
//   dotnet run -c Release --project bench/ActorNat.Cluster.Benchmarks -- [--entries N] [--database memory|sqlite:PATH|postgres://…]
//                                                                       [--concurrency C] [--batch B] [--passivate SECONDS]
//                                                                       [--hocon 'akka.persistence.journal.sql.parallelism = 1']
// --hocon overrides the node's settings (journal batching, dispatcher) to measure a change before it is made.
var entries = Arg("--entries", 100_000);
var database = ArgS("--database", "memory");
var concurrency = Arg("--concurrency", 8);
var batch = Arg("--batch", 500);
var passivate = Arg("--passivate", 10);
var hocon = ArgS("--hocon", "");

var options = new ClusterNodeOptions
{
    NodeName = "bench", Database = database, Seed = 1, PassivateIdle = TimeSpan.FromSeconds(passivate),
    LogLevel = Akka.Event.LogLevel.ErrorLevel,
};
var ctx = new NatNodeContext(options, SystemClock.Instance);
using var host = new HostBuilder().ConfigureServices(s => s.AddAkka("actornat", (b, _) =>
{
    b.WithActorNat(ctx);
    if (hocon.Length > 0) b.AddHocon(hocon, HoconAddMode.Prepend);
})).Build();
await host.StartAsync();
var system = host.Services.GetRequiredService<ActorSystem>();
var nat = new ClusterNatBackend(system, ctx);
while (Akka.Cluster.Cluster.Get(system).SelfMember.Status != Akka.Cluster.MemberStatus.Up) await Task.Delay(50);
foreach (var line in new[]
         {
             "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip route add default via 10.0.2.2",
             "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
             // An unanswered UDP flow lives 30 s by default: longer than filling a million entries takes, so the
             // entries of a large run would expire before they are counted. Keep them for the run.
             "sysctl -w net.netfilter.nf_conntrack_udp_timeout=3600",
         })
    await nat.ApplyConfigAsync(line);

// Distinct reply tuples: 50000 client ports per client address, 250 servers, so every port is kept.
static Packet Flow(int n) => new(new FiveTuple(Protocol.Udp, new IPv4(0xAC120000u + 2 + (uint)(n / 50000)),
    new IPv4(0xC0000200u + 1 + (uint)(n % 250)), (ushort)(1024 + n % 50000), 53));

long Heap()
{
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    return GC.GetTotalMemory(true);
}

// CPU µs per operation alongside the rate: on a shared machine the rate moves with others' load, CPU per operation less.
async Task<(double perSecond, int drops, double cpuMicros)> Run(int count, string what)
{
    int next = -batch, drops = 0, done = 0;
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    var progress = Task.Run(async () =>
    {
        while (Volatile.Read(ref done) < count)
        {
            await Task.Delay(1000);
            Console.Error.Write($"\r{what}: {Volatile.Read(ref done)}/{count} ({Volatile.Read(ref done) / sw.Elapsed.TotalSeconds:F0}/s)   ");
        }
    });
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        while (true)
        {
            int start = Interlocked.Add(ref next, batch);
            if (start >= count) return;
            var packets = Enumerable.Range(start, Math.Min(batch, count - start)).Select(Flow).ToList();
            var verdicts = await nat.TranslateBatchAsync(packets);
            Interlocked.Add(ref drops, verdicts.Count(v => v.Kind == VerdictKind.Drop));
            Interlocked.Add(ref done, packets.Count);
        }
    }));
    var rate = count / sw.Elapsed.TotalSeconds;
    var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMicroseconds / count;
    Volatile.Write(ref done, count);
    await progress;
    Console.Error.WriteLine();
    return (rate, drops, cpu);
}

var before = Heap();
var (newRate, newDrops, newCpu) = await Run(entries, "new flows");
var liveHeap = Heap();
var (estRate, estDrops, estCpu) = await Run(entries, "established");
var count = await nat.CountAsync();
Console.Error.WriteLine($"waiting {passivate} s of idleness for the conntrack entities to passivate");
var region = ctx.ConntrackRegion;
var idleWait = Stopwatch.StartNew();
int active;
do
{
    await Task.Delay(1000);
    var state = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(30));
    active = state.Shards.Sum(s => s.EntityIds.Count);
} while (active > 0 && idleWait.Elapsed < TimeSpan.FromSeconds(passivate * 4 + 60));
var idleHeap = Heap();

Console.WriteLine($"database={database} entries={entries} hocon=[{hocon}] concurrency={concurrency} batch={batch} cores={Environment.ProcessorCount}");
Console.WriteLine($"new flows/s:              {newRate,12:F0}   (drops {newDrops}; {newCpu:F1} µs CPU each)");
Console.WriteLine($"established verdicts/s:   {estRate,12:F0}   (drops {estDrops}; {estCpu:F1} µs CPU each)");
Console.WriteLine($"live entries listed:      {count,12}");
Console.WriteLine($"heap per live entry, entities active:     {(liveHeap - before) / (double)entries,8:F0} B");
Console.WriteLine($"heap per live entry, entities passivated: {(idleHeap - before) / (double)Math.Max(1, count),8:F0} B   ({active} entities still active)");
await host.StopAsync();

int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? int.Parse(v) : fallback;
string ArgS(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
