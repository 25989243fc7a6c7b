using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// Node envelopes: once the nodes know where the pool and bysource shards live, what one node sends to another node's
/// buckets, pools and reply targets travels as one envelope per node, and the answers are the same as without.
/// </summary>
public class NodeEnvelopeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task First_packets_through_every_node_travel_in_envelopes_and_get_distinct_mappings()
    {
        await using var cluster = await TestCluster.Start(3, PostgresServer.Instance.NewDatabase());
        foreach (var line in SmokeTests.Article) await cluster.Nodes[0].Backend.ApplyConfigAsync(line);
        // Some flows create the shards; every node then learns their homes from the sharding statistics.
        var warm = await cluster.Nodes[0].Backend.TranslateBatchAsync(Enumerable.Range(0, 64).Select(i => new Packet(LoadDriver.Flow(i))).ToList());
        Assert.All(warm, v => Assert.Equal(VerdictKind.Translate, v.Kind));
        await TestCluster.Until(() => Task.FromResult(cluster.Nodes.All(n => n.Context.Messenger.Homes.Count >= 20)), TimeSpan.FromSeconds(30),
            "every node knows where the shards live");
        long sentBefore = cluster.Nodes.Sum(n => Interlocked.Read(ref n.Context.Messenger.EnvelopesSent));

        var flows = Enumerable.Range(1000, 600).Select(LoadDriver.Flow).ToList();
        var batches = await Task.WhenAll(Enumerable.Range(0, 3).Select(n =>
            cluster.Nodes[n].Backend.TranslateBatchAsync(flows.Skip(200 * n).Take(200).Select(f => new Packet(f)).ToList()).AsTask()));
        var verdicts = batches.SelectMany(b => b).ToList();
        Assert.All(verdicts, v => Assert.True(v.Kind == VerdictKind.Translate && v.Created, $"{v}"));
        Assert.Equal(600, verdicts.Select(v => (v.Rewritten.Src, v.Rewritten.SPort, v.Rewritten.Dst, v.Rewritten.DPort)).Distinct().Count());

        long envelopes = cluster.Nodes.Sum(n => Interlocked.Read(ref n.Context.Messenger.EnvelopesSent)) - sentBefore;
        long items = cluster.Nodes.Sum(n => Interlocked.Read(ref n.Context.Messenger.ItemsSent));
        output.WriteLine($"envelopes {envelopes} after warm-up, {items} items in all");
        Assert.True(envelopes > 0, "no envelope sent between three nodes");
        Assert.True(cluster.Nodes.All(n => Interlocked.Read(ref n.Context.Messenger.EnvelopesReceived) > 0), "a node received no envelope");

        // Each entry is where the cluster says, once: a listing through any node shows all 664.
        await TestCluster.Until(async () => (await cluster.Nodes[2].Backend.ListAsync(ConntrackFilter.All)).Count == 664, TimeSpan.FromSeconds(20), "664 entries listed");
        // An answer to each finds its entry through the pool, from any node.
        for (int n = 0; n < 30; n++)
        {
            var r = verdicts[n * 20].Rewritten;
            var v = await cluster.Nodes[n % 3].Backend.TranslateAsync(new Packet(new FiveTuple(Protocol.Udp, r.Dst, r.Src, r.DPort, r.SPort)));
            Assert.Equal(Direction.Reply, v.Direction);
            Assert.Equal(flows[n * 20].Src, v.Rewritten.Dst);
        }
    }
}
