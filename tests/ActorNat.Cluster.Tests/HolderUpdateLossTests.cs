using HolderUpdate = ActorNat.Cluster.Messages.HolderUpdate;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// Issue 12's three-node defect, by its cause: the entity's HolderUpdate to its pool lost in flight (a region may drop
/// messages while the pool's shard is handed off, akka.net #8501). The pool's copy serves `conntrack -L`; it must still
/// end up with the stream's state.
/// </summary>
public class HolderUpdateLossTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_lost_holder_update_is_sent_again_so_the_listing_shows_the_stream()
    {
        await using var cluster = await TestCluster.Start(1);
        var node = cluster.Nodes[0];
        var nat = node.Backend;
        foreach (var line in SmokeTests.Article) await nat.ApplyConfigAsync(line);
        await nat.ApplyConfigAsync("sysctl -w net.netfilter.nf_conntrack_udp_timeout=12");
        await nat.ApplyConfigAsync("sysctl -w net.netfilter.nf_conntrack_udp_timeout_stream=70");

        var flow = new FiveTuple(Protocol.Udp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.9"), 45000, 53);
        var out1 = await nat.TranslateAsync(new Packet(flow));
        Assert.Equal(VerdictKind.Translate, out1.Kind);
        Assert.Equal(VerdictKind.Translate, (await nat.TranslateAsync(new Packet(out1.Rewritten.Invert()))).Kind);
        await TestCluster.Until(async () => (await nat.ListAsync(ConntrackFilter.All)) is [{ Entry.State.Status: var s }] && (s & ConnStatus.SeenReply) != 0,
            TimeSpan.FromSeconds(10), "the pool has seen the answer");
        cluster.Clock.AdvanceSeconds(6);

        // The second exchange's update (ASSURED, udp_timeout_stream) is lost on its first delivery.
        int lost = 0;
        node.Context.LoseAtPool = m => m is HolderUpdate && Interlocked.Increment(ref lost) == 1;
        var out2 = await nat.TranslateAsync(new Packet(flow));
        Assert.Equal(out1.Rewritten, out2.Rewritten);
        Assert.Equal(VerdictKind.Translate, (await nat.TranslateAsync(new Packet(out2.Rewritten.Invert()))).Kind);

        await TestCluster.Until(async () =>
        {
            var list = await nat.ListAsync(ConntrackFilter.All);
            foreach (var r in list) output.WriteLine($"{r.Entry.Original} assured={r.Entry.State.Assured} timeout={r.TimeoutSeconds} lost={Volatile.Read(ref lost)}");
            return list is [var e] && e.Entry.State.Assured && e.TimeoutSeconds >= 69;
        }, TimeSpan.FromSeconds(15), "the listing shows [ASSURED] with udp_timeout_stream");
        Assert.True(Volatile.Read(ref lost) >= 2, "the update was lost once and delivered again");
    }
}
