using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// Issue 12's three-node defect: a UDP flow answered once, then sent and answered again later, must become a stream
/// ([ASSURED], udp_timeout_stream) whatever moves between the two exchanges: its pool and its entity handed off to
/// a node that joined (a fresh cluster still settling its shards).
/// </summary>
public class UdpStreamHandOffTests(ITestOutputHelper output)
{
    private static Func<ClusterNodeOptions, ClusterNodeOptions> Fast => o => o with { RebalanceInterval = TimeSpan.FromSeconds(1) };

    [Fact]
    public async Task A_udp_stream_stays_assured_when_its_shards_move_between_its_exchanges()
    {
        await using var cluster = await TestCluster.Start(2, PostgresServer.Instance.NewDatabase(), configure: Fast);
        var nat = cluster.Nodes[0].Backend;
        foreach (var line in SmokeTests.Article) await nat.ApplyConfigAsync(line);
        await nat.ApplyConfigAsync("sysctl -w net.netfilter.nf_conntrack_udp_timeout=12");
        await nat.ApplyConfigAsync("sysctl -w net.netfilter.nf_conntrack_udp_timeout_stream=70");

        // 40 flows to 40 servers (pools and entities on both nodes), each answered once.
        var flows = Enumerable.Range(0, 40).Select(i =>
            new FiveTuple(Protocol.Udp, IPv4.Parse("172.18.0.2"), new IPv4(IPv4.Parse("192.0.2.1").Value + (uint)i), (ushort)(44000 + i), 53)).ToList();
        foreach (var f in flows)
        {
            var out1 = await nat.TranslateAsync(new Packet(f));
            Assert.Equal(VerdictKind.Translate, out1.Kind);
            Assert.Equal(VerdictKind.Translate, (await nat.TranslateAsync(new Packet(out1.Rewritten.Invert()))).Kind);
        }
        cluster.Clock.AdvanceSeconds(3);

        // A third node joins: shards move to it (hand-off) while the second exchanges go on.
        var joiner = await cluster.AddNode();
        await cluster.AwaitUp();
        var second = Task.Run(async () =>
        {
            foreach (var f in flows)
            {
                var out2 = await nat.TranslateAsync(new Packet(f));
                await nat.TranslateAsync(new Packet(out2.Rewritten.Invert()));
            }
        });
        await TestCluster.Until(async () =>
        {
            var stats = await cluster.Nodes[0].Context.PoolRegion.Ask<ClusterShardingStats>(new GetClusterShardingStats(TimeSpan.FromSeconds(2)), TimeSpan.FromSeconds(3));
            return stats.Regions.TryGetValue(joiner.Address, out var s) && s.Stats.Count > 0;
        }, TimeSpan.FromSeconds(60), "pools rebalanced to the new node");
        await second;
        // Let the last updates land, then every flow must list as a stream: [ASSURED], about 70 s left.
        await TestCluster.Until(async () =>
        {
            var list = await nat.ListAsync(ConntrackFilter.All);
            var bad = list.Where(r => !r.Entry.State.Assured || r.TimeoutSeconds < 60).ToList();
            foreach (var b in bad.Take(3)) output.WriteLine($"not a stream yet: {b.Entry.Original} assured={b.Entry.State.Assured} timeout={b.TimeoutSeconds}");
            return list.Count == flows.Count && bad.Count == 0;
        }, TimeSpan.FromSeconds(20), "every flow a stream");
    }
}
