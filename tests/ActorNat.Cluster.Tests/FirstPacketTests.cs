using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// The first-packet path: a connection's first packet is decided at the ingress and answered by its pool without
/// starting the connection's entity; a later packet reaches the entity, through any node, and finds the same entry.
/// </summary>
public class FirstPacketTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_batch_of_first_packets_starts_no_entity_and_later_packets_through_any_node_find_their_entries()
    {
        var tracker = new ActivationTracker();
        await using var cluster = await TestCluster.Start(3, PostgresServer.Instance.NewDatabase(), activations: tracker.Observe);
        var first = cluster.Nodes[0].Backend;
        foreach (var line in SmokeTests.Article) await first.ApplyConfigAsync(line);

        var flows = Enumerable.Range(0, 200).Select(LoadDriver.Flow).ToList();
        var opened = await first.TranslateBatchAsync(flows.Select(f => new Packet(f)).ToList());
        Assert.All(opened, v => Assert.True(v.Kind == VerdictKind.Translate && v.Created, $"{v}"));
        Assert.Equal(200, opened.Select(v => v.ConntrackId).Distinct().Count());
        Assert.Equal(200, opened.Select(v => (v.Rewritten.Src, v.Rewritten.SPort, v.Rewritten.Dst, v.Rewritten.DPort)).Distinct().Count());
        var entities = tracker.LastHome.Keys.Where(k => k.StartsWith("ct-", StringComparison.Ordinal)).ToList();
        output.WriteLine($"entities started by 200 first packets: {entities.Count}");
        Assert.Empty(entities);
        Assert.Equal(200, (await first.ListAsync(ConntrackFilter.All)).Count);

        // Second packets: through the node that saw the first ones (its hints send them to the entity) and through
        // another node (no hint: index, then the pool, which sends them on to the entity). Same entry, nothing created.
        for (int n = 0; n < flows.Count; n++)
        {
            var via = cluster.Nodes[n % 2 == 0 ? 0 : 1 + n % 2].Backend;
            var v = await via.TranslateAsync(new Packet(flows[n]));
            Assert.Equal(opened[n].Rewritten, v.Rewritten);
            Assert.Equal(opened[n].ConntrackId, v.ConntrackId);
            Assert.False(v.Created);
        }
        // An answer to each finds its entry through the pool.
        for (int n = 0; n < 20; n++)
        {
            var r = opened[n].Rewritten;
            var answer = new FiveTuple(Protocol.Udp, r.Dst, r.Src, r.DPort, r.SPort);
            var v = await cluster.Nodes[2].Backend.TranslateAsync(new Packet(answer));
            Assert.Equal(Direction.Reply, v.Direction);
            Assert.Equal(flows[n].Src, v.Rewritten.Dst);
            Assert.Equal(flows[n].SPort, v.Rewritten.DPort);
        }
        Assert.Equal(200, (await first.ListAsync(ConntrackFilter.All)).Count);
        Assert.Empty(tracker.DoubleActivations);
    }

    [Fact]
    public async Task A_first_packet_asked_again_through_its_entity_still_reports_the_connection_it_created()
    {
        // Attempts time out after 5 ms, so most first packets are asked again through their entity while their own
        // allocation is still on its way; whichever answer comes first, each packet created its connection once.
        await using var cluster = await TestCluster.Start(1, configure: o => o with { AttemptTimeout = TimeSpan.FromMilliseconds(5), Attempts = 2000 });
        var node = cluster.Nodes[0];
        foreach (var line in SmokeTests.Article) await node.Backend.ApplyConfigAsync(line);

        var flows = Enumerable.Range(0, 300).Select(LoadDriver.Flow).ToList();
        long retriesBefore = Interlocked.Read(ref node.Context.Counters.Retries);
        var opened = await node.Backend.TranslateBatchAsync(flows.Select(f => new Packet(f)).ToList());
        long retries = Interlocked.Read(ref node.Context.Counters.Retries) - retriesBefore;
        output.WriteLine($"requests asked again: {retries}");
        Assert.True(retries > 0, "no first packet was asked again: the test did not exercise the path");
        Assert.All(opened, v => Assert.True(v.Kind == VerdictKind.Translate && v.Created, $"{v}"));
        Assert.Equal(300, opened.Select(v => v.ConntrackId).Distinct().Count());
        Assert.Equal(300, (await node.Backend.ListAsync(ConntrackFilter.All)).Count);

        var again = await node.Backend.TranslateBatchAsync(flows.Select(f => new Packet(f)).ToList());
        Assert.All(again, v => Assert.False(v.Created, $"{v}"));
        Assert.Equal(opened.Select(v => v.ConntrackId), again.Select(v => v.ConntrackId));
    }
}
