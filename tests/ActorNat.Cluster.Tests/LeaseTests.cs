using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// Leases through real actor systems: a steady connection's packets are answered by each ingress node's flow cache;
/// a packet that changes the entry (FIN) takes every node's copy back before its verdict; a deletion drops every
/// copy before it returns; refreshes answered from a copy reach the listing.
/// </summary>
public class LeaseTests(ITestOutputHelper output)
{
    private static readonly IPv4 Client = IPv4.Parse("172.18.0.2");

    private static async Task Configure(ClusterNatBackend nat)
    {
        foreach (var line in SmokeTests.Article) await nat.ApplyConfigAsync(line);
    }

    /// <summary>A UDP stream: first packet, answer, and a packet more than 2 s later (ASSURED).</summary>
    private static async Task<(FiveTuple Flow, Verdict First)> Stream(TestCluster cluster, ClusterNatBackend nat, ushort port)
    {
        var flow = new FiveTuple(Protocol.Udp, Client, IPv4.Parse("192.0.2.9"), port, 53);
        var first = await nat.TranslateAsync(new Packet(flow));
        Assert.True(first.Created);
        Assert.Equal(VerdictKind.Translate, (await nat.TranslateAsync(new Packet(first.Rewritten.Invert()))).Kind);
        cluster.Clock.AdvanceSeconds(2.5);
        Assert.Equal(first.Rewritten, (await nat.TranslateAsync(new Packet(flow))).Rewritten); // ASSURED now: leased with this verdict
        return (flow, first);
    }

    [Fact]
    public async Task Steady_packets_are_answered_from_the_flow_cache_and_a_deletion_drops_the_copies_before_it_returns()
    {
        await using var cluster = await TestCluster.Start(1);
        var node = cluster.Nodes[0];
        var nat = node.Backend;
        await Configure(nat);
        var (flow, first) = await Stream(cluster, nat, 45000);
        Assert.Equal(1, node.Context.FlowCache.Count);

        long before = Interlocked.Read(ref node.Context.Counters.FlowCacheAnswered);
        for (int i = 0; i < 20; i++)
        {
            var v = await nat.TranslateAsync(new Packet(i % 2 == 0 ? flow : first.Rewritten.Invert()));
            Assert.Equal((VerdictKind.Translate, first.ConntrackId, false), (v.Kind, v.ConntrackId, v.Created));
            Assert.Equal(i % 2 == 0 ? first.Rewritten : flow.Invert(), v.Rewritten);
        }
        Assert.Equal(20, Interlocked.Read(ref node.Context.Counters.FlowCacheAnswered) - before);

        Assert.Equal(1, await nat.DeleteAsync(ConntrackFilter.All));
        Assert.Equal(0, node.Context.FlowCache.Count);
        var after = await nat.TranslateAsync(new Packet(flow));
        Assert.True(after.Created, "the packet after conntrack -D opens a new entry");
        Assert.NotEqual(first.ConntrackId, after.ConntrackId);
    }

    [Fact]
    public async Task Refreshes_answered_from_a_copy_reach_the_listing_and_keep_the_entry_alive()
    {
        await using var cluster = await TestCluster.Start(1);
        var node = cluster.Nodes[0];
        var nat = node.Backend;
        await Configure(nat);
        await nat.ApplyConfigAsync("sysctl -w net.netfilter.nf_conntrack_udp_timeout_stream=20");
        var (flow, first) = await Stream(cluster, nat, 45001);
        long before = Interlocked.Read(ref node.Context.Counters.FlowCacheAnswered);
        // 30 s of packets every 300 ms: longer than the stream timeout, so only the refreshes keep the entry.
        for (int i = 0; i < 100; i++)
        {
            cluster.Clock.Advance(300);
            var v = await nat.TranslateAsync(new Packet(flow));
            Assert.Equal((VerdictKind.Translate, first.ConntrackId), (v.Kind, v.ConntrackId));
        }
        long cached = Interlocked.Read(ref node.Context.Counters.FlowCacheAnswered) - before;
        output.WriteLine($"{cached} of 100 answered from the flow cache");
        Assert.True(cached > 0);
        // The pool's copy (the listing) follows within the slack: 20 s from the last packet, at most a second early.
        await TestCluster.Until(async () => (await nat.ListAsync(ConntrackFilter.All)) is [var r] && r.TimeoutSeconds >= 19,
            TimeSpan.FromSeconds(10), "the listing shows the last packet's refresh");
        cluster.Clock.AdvanceSeconds(18);
        Assert.Single(await nat.ListAsync(ConntrackFilter.All));
        Assert.Equal(first.ConntrackId, (await nat.TranslateAsync(new Packet(flow))).ConntrackId);
    }

    /// <summary>
    /// An entity that passivates (or is handed off) takes its copies back first; the connection's next packet brings
    /// it back from its pool, with the same entry, and it leases the connection again.
    /// </summary>
    [Fact]
    public async Task A_passivating_entity_revokes_its_leases_and_its_connection_carries_on()
    {
        int stops = 0;
        await using var cluster = await TestCluster.Start(1, configure: o => o with { PassivateIdle = TimeSpan.FromSeconds(1) },
            activations: (_, id, started) => { if (!started && id.StartsWith("ct-")) Interlocked.Increment(ref stops); });
        var node = cluster.Nodes[0];
        var nat = node.Backend;
        await Configure(nat);
        var (flow, first) = await Stream(cluster, nat, 45002);
        Assert.Equal(1, node.Context.FlowCache.Count);
        // The lease is still within its term on the node's clock; the idle entity passivates and takes it back.
        await TestCluster.Until(() => Task.FromResult(Volatile.Read(ref stops) > 0 && node.Context.FlowCache.Count == 0),
            TimeSpan.FromSeconds(15), "the entity passivated and revoked its lease");
        Assert.False(node.Context.FlowCache.TryAnswer(new Packet(flow), cluster.Clock.NowMs, node.Context.Timeouts, out _));
        for (int i = 0; i < 3; i++)
        {
            cluster.Clock.Advance(100);
            var v = await nat.TranslateAsync(new Packet(flow));
            Assert.Equal((VerdictKind.Translate, first.ConntrackId, first.Rewritten, false), (v.Kind, v.ConntrackId, v.Rewritten, v.Created));
        }
        Assert.Equal(1, node.Context.FlowCache.Count);
        Assert.Single(await nat.ListAsync(ConntrackFilter.All));
    }

    /// <summary>
    /// The entity's node is lost: a node holding its copy drops it as soon as that node is unreachable (a new
    /// incarnation elsewhere knows no leases), so nothing is answered from it any more.
    /// </summary>
    [Fact]
    public async Task Copies_of_a_lost_nodes_entities_are_dropped_when_it_becomes_unreachable()
    {
        await using var cluster = await TestCluster.Start(3);
        await Configure(cluster.Nodes[0].Backend);
        // A stream leased to a node other than its entity's.
        foreach (var ingress in cluster.Nodes)
        {
            var (flow, _) = await Stream(cluster, ingress.Backend, (ushort)(45100 + cluster.Nodes.IndexOf(ingress)));
            var owner = ingress.Context.FlowCache.OwnerOf(flow);
            Assert.NotNull(owner);
            var ownerNode = owner.HasLocalScope ? ingress : cluster.Nodes.Single(n => n.Address == owner);
            if (ownerNode == ingress) continue;
            ownerNode.Abort();
            await TestCluster.Until(() => Task.FromResult(ingress.Context.FlowCache.Count == 0), TimeSpan.FromSeconds(20),
                "the copy of the lost node's entity is dropped");
            Assert.False(ingress.Context.FlowCache.TryAnswer(new Packet(flow), cluster.Clock.NowMs, ingress.Context.Timeouts, out _));
            return;
        }
        Assert.Fail("every stream's entity lived on its ingress node");
    }

    [Fact]
    public async Task A_fin_takes_every_nodes_copy_back_before_its_verdict_and_later_packets_follow_the_close()
    {
        await using var cluster = await TestCluster.Start(3);
        var (a, b, c) = (cluster.Nodes[0].Backend, cluster.Nodes[1].Backend, cluster.Nodes[2].Backend);
        await Configure(a);
        var syn = new FiveTuple(Protocol.Tcp, Client, IPv4.Parse("192.0.2.80"), 40000, 80);
        var v = await a.TranslateAsync(new Packet(syn, TcpFlags.Syn, 100));
        var back = v.Rewritten.Invert();
        await a.TranslateAsync(new Packet(back, TcpFlags.Syn | TcpFlags.Ack, 5000));
        await a.TranslateAsync(new Packet(syn, TcpFlags.Ack, 101)); // ESTABLISHED, ASSURED
        // Each of B and C asks once (through the entity, which leases), then answers from its copy.
        foreach (var (ingress, node) in new[] { (b, cluster.Nodes[1]), (c, cluster.Nodes[2]) })
        {
            await TestCluster.Until(async () =>
            {
                var x = await ingress.TranslateAsync(new Packet(syn, TcpFlags.Ack, 101));
                Assert.Equal(v.Rewritten, x.Rewritten);
                return node.Context.FlowCache.Count == 1;
            }, TimeSpan.FromSeconds(10), "a lease on " + node.Context.NodeName);
            long n = Interlocked.Read(ref node.Context.Counters.FlowCacheAnswered);
            Assert.Equal(syn.Invert(), (await ingress.TranslateAsync(new Packet(back, TcpFlags.Ack, 5001))).Rewritten);
            Assert.Equal(n + 1, Interlocked.Read(ref node.Context.Counters.FlowCacheAnswered));
        }

        // The client's FIN through A: once it is answered, no node holds a copy.
        Assert.Equal(v.Rewritten, (await a.TranslateAsync(new Packet(syn, TcpFlags.Fin | TcpFlags.Ack, 101))).Rewritten);
        Assert.Equal(0, cluster.Nodes[1].Context.FlowCache.Count);
        Assert.Equal(0, cluster.Nodes[2].Context.FlowCache.Count);
        // The server's ACK of the FIN through B goes to the entity: FIN_WAIT → CLOSE_WAIT, as in the kernel.
        long before = Interlocked.Read(ref cluster.Nodes[1].Context.Counters.FlowCacheAnswered);
        Assert.Equal(syn.Invert(), (await b.TranslateAsync(new Packet(back, TcpFlags.Ack, 5001))).Rewritten);
        Assert.Equal(before, Interlocked.Read(ref cluster.Nodes[1].Context.Counters.FlowCacheAnswered));
        await TestCluster.Until(async () => (await c.ListAsync(ConntrackFilter.All)) is [var r] && r.Entry.State.Tcp == TcpState.CloseWait,
            TimeSpan.FromSeconds(10), "the listing shows CLOSE_WAIT");
    }
}
