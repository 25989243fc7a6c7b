using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using BenchmarkDotNet.Attributes;

namespace ActorNat.Core.Benchmarks;

/// <summary>
/// The Core ceiling on one core: new-flow decisions (route, rules, allocation, insert) and established-flow lookups
/// (the fast path), through <see cref="NatEngine"/> with the article's configuration.
/// </summary>
[MemoryDiagnoser]
public class CoreBenchmarks
{
    public const int Flows = 100_000;

    private NatEngine _engine = null!;
    private Packet[] _newFlows = null!;
    private Packet[] _collidingFlows = null!;
    private Packet[] _established = null!;

    public static NatEngine Article(int capacity)
    {
        var e = new NatEngine(new ManualClock(1_000_000), new SeededRandom(1), maxEntries: 4 * capacity);
        foreach (var line in new[]
                 {
                     "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip addr add 203.0.113.56/24 dev eth0",
                     "ip route add default via 10.0.2.2", "ip route add 198.51.100.1 via 203.0.113.4 dev eth0",
                     "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680",
                     "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
                 })
            e.Apply(line);
        return e;
    }

    [GlobalSetup]
    public void Setup()
    {
        // New UDP flows with distinct client ports: the port is kept (the kernel anchor's case).
        _newFlows = Enumerable.Range(0, Flows).Select(i => new Packet(new FiveTuple(Protocol.Udp,
            IPv4.Parse("172.18.0.2"), new IPv4(0xC0000201u + (uint)(i / 60000)), (ushort)(1024 + i % 60000), 53))).ToArray();
        // New flows that all share one client port towards one server: every one needs a search.
        _collidingFlows = Enumerable.Range(0, Flows).Select(i => new Packet(new FiveTuple(Protocol.Udp,
            new IPv4(0xAC120000u + 2 + (uint)i), IPv4.Parse("192.0.2.53"), 40000, (ushort)(1 + i % 16)))).ToArray();
        var established = Article(Flows);
        foreach (var p in _newFlows) established.Process(p);
        _engine = established;
        _established = _newFlows;
    }

    [IterationSetup(Targets = [nameof(NewFlows), nameof(NewFlowsNeedingSearch)])]
    public void FreshEngine() => _engine = Article(Flows);

    [Benchmark(OperationsPerInvoke = Flows, Description = "new flow, port kept")]
    public void NewFlows()
    {
        var e = _engine;
        foreach (var p in _newFlows) e.Process(p);
    }

    [Benchmark(OperationsPerInvoke = Flows, Description = "new flow, port searched")]
    public void NewFlowsNeedingSearch()
    {
        var e = _engine;
        foreach (var p in _collidingFlows) e.Process(p);
    }

    [Benchmark(OperationsPerInvoke = Flows, Description = "established flow (fast path)")]
    public void EstablishedLookups()
    {
        var e = _engine;
        foreach (var p in _established) e.Process(p);
    }
}
