using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// ICMP through the packet API as the kernel tracks it: a UDP client's `connect()` to a closed port gets the server's
/// port unreachable back translated (RELATED: outer destination and quoted source rewritten, checksums named); a TTL
/// exceeded from a hop on the path likewise; an unsolicited reply and an error about no connection are not tracked.
/// </summary>
public class IcmpVerdictTests
{
    private static Wire.PacketMeta Error(string from, uint type, uint code, Wire.Tuple quoted) => new()
        { Protocol = Wire.IpProtocol.Icmp, SrcAddress = from, DstAddress = "10.0.2.15", IcmpType = type, IcmpCode = code, Embedded = quoted };

    private static Wire.Tuple Quote(Wire.Verdict v) => v.Rewritten; // the packet as it left the NAT box, as the server quotes it

    private static async Task<long> Counter(LiveNode n, string name) =>
        (await n.Admin.ConntrackStatsAsync(new Wire.Empty())).Nodes.SelectMany(x => x.Counters).Where(c => c.Name == name).Sum(c => c.Value);

    [Fact]
    public async Task A_port_unreachable_for_a_udp_flow_goes_back_to_the_client_translated()
    {
        await using var n = await LiveNode.StartArticleAsync();
        var sent = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 41000, "192.0.2.80", 9999) });
        Assert.Equal(Wire.VerdictAction.Translate, sent.Action);
        Assert.Equal("10.0.2.15", sent.Rewritten.SrcAddress);

        var v = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = Error("192.0.2.80", 3, 3, Quote(sent)) });
        Assert.Equal(Wire.VerdictAction.Translate, v.Action);
        Assert.True(v.Related);
        Assert.Equal(sent.ConntrackId, v.ConntrackId);
        Assert.Equal(Wire.PacketDirection.Reply, v.Direction);
        // Outer: to the client; quoted: the client's own packet, so its connected socket sees ECONNREFUSED.
        Assert.Equal(("192.0.2.80", "172.18.0.2", 3u, 3u), (v.Rewritten.SrcAddress, v.Rewritten.DstAddress, v.Rewritten.IcmpType, v.Rewritten.IcmpCode));
        Assert.Equal(("172.18.0.2", 41000u, "192.0.2.80", 9999u), (v.EmbeddedRewritten.SrcAddress, v.EmbeddedRewritten.SrcPort, v.EmbeddedRewritten.DstAddress, v.EmbeddedRewritten.DstPort));
        Assert.Equal([Wire.ChecksumFix.IpHeader, Wire.ChecksumFix.Transport, Wire.ChecksumFix.EmbeddedIpHeader, Wire.ChecksumFix.EmbeddedTransport], v.Checksums);
        Assert.Equal("172.18.0.2", v.Original.SrcAddress);
        Assert.Equal("10.0.2.15", v.Reply.DstAddress);

        // An error is not a reply: the entry stays [UNREPLIED].
        var entry = Assert.Single(await n.ListAsync());
        Assert.True(entry.Unreplied);
    }

    [Fact]
    public async Task A_ttl_exceeded_from_a_hop_and_errors_about_tcp_are_related_too()
    {
        await using var n = await LiveNode.StartArticleAsync();
        var syn = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Tcp("172.18.0.3", 42000, "192.0.2.80", 80, LiveNode.Syn, 1000) });
        Assert.Equal(Wire.VerdictAction.Translate, syn.Action);
        var v = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = Error("10.0.2.2", 11, 0, Quote(syn)) });
        Assert.True(v.Related);
        Assert.Equal(("10.0.2.2", "172.18.0.3"), (v.Rewritten.SrcAddress, v.Rewritten.DstAddress));
        Assert.Equal(("172.18.0.3", 42000u), (v.EmbeddedRewritten.SrcAddress, v.EmbeddedRewritten.SrcPort));
        Assert.Equal(syn.ConntrackId, v.ConntrackId);
    }

    [Fact]
    public async Task Replies_and_errors_about_nothing_are_not_tracked_and_counted_as_the_kernel_counts_them()
    {
        await using var n = await LiveNode.StartArticleAsync();
        var invalid = await Counter(n, "invalid");
        var error = await Counter(n, "error");
        var reply = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = new Wire.PacketMeta
            { Protocol = Wire.IpProtocol.Icmp, SrcAddress = "172.18.0.3", DstAddress = "192.0.2.53", IcmpType = 0, IcmpId = 104 } });
        Assert.Equal(Wire.VerdictAction.Untracked, reply.Action);
        Assert.Equal(0ul, reply.ConntrackId);
        Assert.Equal("172.18.0.3", reply.Rewritten.SrcAddress); // forwarded as it came

        var stray = new Wire.Tuple { Protocol = Wire.IpProtocol.Udp, SrcAddress = "10.0.2.15", DstAddress = "192.0.2.80", SrcPort = 5, DstPort = 6 };
        var orphan = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = Error("192.0.2.80", 3, 3, stray) });
        Assert.Equal(Wire.VerdictAction.Untracked, orphan.Action);
        Assert.False(orphan.Related);
        var unknown = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = new Wire.PacketMeta
            { Protocol = Wire.IpProtocol.Icmp, SrcAddress = "172.18.0.3", DstAddress = "192.0.2.53", IcmpType = 40 } });
        Assert.Equal(Wire.VerdictAction.Untracked, unknown.Action);

        Assert.Equal(0ul, await n.CountAsync());
        Assert.Equal(invalid + 1, await Counter(n, "invalid"));
        Assert.Equal(error + 2, await Counter(n, "error"));
    }
}
