using ActorNat.Core.Nat;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// Three real ActorSystems on 127.0.0.1 with remoting on port 0, sharing one PostgreSQL database (the journal an
/// entity recovers from when its shard moves to another node).
/// </summary>
public class ClusterTests(ITestOutputHelper output)
{
    private static Func<ClusterNodeOptions, ClusterNodeOptions> Fast => o => o with { RebalanceInterval = TimeSpan.FromSeconds(1) };

    private static async Task Configure(INatBackend nat)
    {
        foreach (var line in SmokeTests.Article) await nat.ApplyConfigAsync(line);
    }

    [Fact]
    public async Task Entries_and_pools_spread_over_all_nodes()
    {
        var tracker = new ActivationTracker();
        await using var cluster = await TestCluster.Start(3, PostgresServer.Instance.NewDatabase(), configure: Fast, activations: tracker.Observe);
        var nat = cluster.Nodes[0].Backend;
        await Configure(nat);
        for (int n = 0; n < 300; n++)
            Assert.NotEqual(VerdictKind.Drop, (await nat.TranslateAsync(new Packet(LoadDriver.Flow(n)))).Kind);
        var list = await nat.ListAsync(ConntrackFilter.All);
        Assert.Equal(300, list.Count);
        var poolNodes = list.Select(r => r.Node).Distinct().ToList();
        output.WriteLine($"pools on: {string.Join(", ", poolNodes)}; entities on: {string.Join(", ", tracker.EverActive)}");
        Assert.Equal(3, poolNodes.Count);
        Assert.Equal(3, tracker.EverActive.Count);
        // The same answer whichever node a packet enters at.
        var again = await cluster.Nodes[2].Backend.TranslateAsync(new Packet(LoadDriver.Flow(7)));
        Assert.Equal(list.Single(r => r.Entry.Original == LoadDriver.Flow(7)).Entry.Id, again.ConntrackId);
    }

    [Fact]
    public async Task Abrupt_loss_of_a_node_under_load_loses_no_acknowledged_mapping()
    {
        var tracker = new ActivationTracker();
        await using var cluster = await TestCluster.Start(3, PostgresServer.Instance.NewDatabase(), configure: Fast, activations: tracker.Observe);
        var nat = cluster.Nodes[0].Backend;
        await Configure(nat);
        var load = new LoadDriver(nat, workers: 4);
        load.Start();
        await TestCluster.Until(() => Task.FromResult(load.Acked.Count >= 400), TimeSpan.FromSeconds(60), "400 acknowledged flows");

        var victim = cluster.Nodes[2];
        var before = load.Acked.ToList();
        var affected = new HashSet<string>(tracker.HomedOn(victim.Context.NodeName));
        var lostAt = load.Elapsed;
        var sw = Stopwatch.StartNew();
        tracker.NodeDied(victim.Context.NodeName);
        victim.Abort();
        output.WriteLine($"aborted {victim.Context.NodeName} with {before.Count} flows acknowledged; {affected.Count} entities were homed there");

        // Every mapping acknowledged before the loss answers again with the same translation; time each one. Affected:
        // the flows whose entity or whose pool (the entry's durable memory; a first packet starts no entity) was there.
        int buckets = victim.Context.Options.PoolBuckets;
        var pending = before.Where(a => affected.Contains("ct-" + Keys.Conntrack(a.Original))
                || affected.Contains("pool-" + Keys.PoolOfReply(PortAllocator.ReplyFor(a.Original, a.Rewritten.Src, a.Rewritten.SPort), buckets)))
            .ToDictionary(a => a.Original);
        Assert.NotEmpty(pending);
        var recovered = new List<double>();
        await TestCluster.Until(async () =>
        {
            foreach (var a in pending.Values.ToList())
            {
                try
                {
                    var v = await nat.TranslateAsync(new Packet(a.Original));
                    Assert.Equal(a.Rewritten, v.Rewritten);
                    Assert.Equal(a.Id, v.ConntrackId);
                    pending.Remove(a.Original);
                    recovered.Add(sw.Elapsed.TotalSeconds);
                }
                catch (AskTimeoutException) { }
            }
            return pending.Count == 0;
        }, TimeSpan.FromSeconds(90), "every affected acknowledged flow answers again");
        recovered.Sort();
        output.WriteLine($"recovery of {recovered.Count} affected flows after the loss: p50 {recovered[recovered.Count / 2]:F2} s, max {recovered[^1]:F2} s");
        Console.WriteLine($"RECOVERY affected={recovered.Count} p50={recovered[recovered.Count / 2]:F2}s max={recovered[^1]:F2}s");

        // New flows keep being served.
        int ackedAtLoss = load.Acked.Count;
        await TestCluster.Until(() => Task.FromResult(load.Acked.Count >= ackedAtLoss + 200), TimeSpan.FromSeconds(60), "200 more flows after the loss");
        await load.Stop();

        // Every acknowledged mapping (before and after) still answers the same; no reply tuple is held twice.
        foreach (var a in load.Acked)
        {
            var v = await nat.TranslateAsync(new Packet(a.Original));
            Assert.Equal(a.Rewritten, v.Rewritten);
        }
        var list = await nat.ListAsync(ConntrackFilter.All);
        var dupes = list.GroupBy(r => r.Entry.Reply).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(dupes);
        Assert.Empty(tracker.DoubleActivations);
        var failedAfter = load.Failed.Where(f => f.At >= lostAt).ToList();
        output.WriteLine($"acknowledged {load.Acked.Count}, failed {load.Failed.Count} ({failedAfter.Count} after the loss); listed {list.Count}");
        Assert.True(list.Count >= load.Acked.Count, "every acknowledged flow is listed");
    }

    [Fact]
    public async Task A_node_joining_under_load_takes_shards_and_no_request_fails()
    {
        await using var cluster = await TestCluster.Start(2, PostgresServer.Instance.NewDatabase(), configure: Fast);
        var nat = cluster.Nodes[0].Backend;
        await Configure(nat);
        var load = new LoadDriver(nat, workers: 4);
        load.Start();
        await TestCluster.Until(() => Task.FromResult(load.Acked.Count >= 200), TimeSpan.FromSeconds(60), "200 flows on two nodes");
        var joiner = await cluster.AddNode();
        await cluster.AwaitUp();
        await TestCluster.Until(async () =>
        {
            // The pools' shards: a new flow's first packet is answered by its pool and starts no conntrack entity.
            var stats = await cluster.Nodes[0].Context.PoolRegion.Ask<ClusterShardingStats>(new GetClusterShardingStats(TimeSpan.FromSeconds(2)), TimeSpan.FromSeconds(3));
            return stats.Regions.TryGetValue(joiner.Address, out var s) && s.Stats.Count > 0;
        }, TimeSpan.FromSeconds(60), "shards rebalanced to the new node");
        int atJoin = load.Acked.Count;
        await TestCluster.Until(() => Task.FromResult(load.Acked.Count >= atJoin + 300), TimeSpan.FromSeconds(60), "300 more flows after the join");
        await load.Stop();
        output.WriteLine($"acknowledged {load.Acked.Count}, failed {load.Failed.Count}");
        Assert.Empty(load.Failed);
        foreach (var a in load.Acked.Take(200))
            Assert.Equal(a.Rewritten, (await nat.TranslateAsync(new Packet(a.Original))).Rewritten);
    }

    [Fact]
    public async Task Expiry_across_the_cluster_frees_the_port()
    {
        await using var cluster = await TestCluster.Start(3, PostgresServer.Instance.NewDatabase(), configure: Fast);
        var nat = cluster.Nodes[1].Backend;
        await Configure(nat);
        await nat.ApplyConfigAsync("iptables -t nat -I POSTROUTING 1 -p udp -d 192.0.2.99 -j MASQUERADE --to-ports 50000-50000");
        var a = new FiveTuple(Protocol.Udp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.99"), 1000, 53);
        var b = a with { Src = IPv4.Parse("172.18.0.3") };
        Assert.Equal((ushort)50000, (await nat.TranslateAsync(new Packet(a))).Rewritten.SPort);
        var clash = await nat.TranslateAsync(new Packet(b));
        Assert.Equal((VerdictKind.Drop, ActorNat.Core.Nat.DropReason.PortsExhausted), (clash.Kind, clash.Reason));

        cluster.Clock.AdvanceSeconds(31); // UDP's 30 s, on the clock every node shares
        await TestCluster.Until(async () => (await nat.ListAsync(ConntrackFilter.All)).Count == 0, TimeSpan.FromSeconds(30), "the pool expired the entry");
        var later = await nat.TranslateAsync(new Packet(b));
        Assert.Equal((VerdictKind.Translate, ActorNat.Core.Nat.DropReason.None, (ushort)50000), (later.Kind, later.Reason, later.Rewritten.SPort));
    }
}
