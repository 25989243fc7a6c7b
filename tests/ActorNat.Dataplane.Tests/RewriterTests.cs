using System.Buffers.Binary;
using ActorNat.Core.Net;
using ActorNat.Dataplane.Packets;
using static ActorNat.Dataplane.Tests.PacketBuilder;

namespace ActorNat.Dataplane.Tests;

/// <summary>Rewriting is checked against full recomputation: every rewritten packet must verify, and equal a packet built new with the target fields.</summary>
public class RewriterTests
{
    private static readonly IPv4 Client = IPv4.Parse("172.18.0.2"), Nat = IPv4.Parse("10.0.2.15"), Server = IPv4.Parse("10.0.2.2");

    [Fact]
    public void Rfc1624_update_equals_full_recomputation_and_never_yields_minus_zero()
    {
        var rng = new Random(1624);
        for (int i = 0; i < 20000; i++)
        {
            var data = new byte[2 * rng.Next(2, 40)];
            rng.NextBytes(data);
            if (i % 7 == 0) data.AsSpan(0, 4).Fill(0xff); // words near the all-ones edge
            var check = Checksum.Compute(data);
            int at = 2 * rng.Next(data.Length / 2);
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at));
            ushort now = (ushort)(i % 5 == 0 ? 0 : rng.Next(65536));
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(at), now);
            var updated = Checksum.Update16(check, old, now);
            Assert.Equal(0xffffu, Fold(Checksum.Sum(data) + updated)); // the packet verifies
            Assert.Equal(Checksum.Compute(data), updated);             // and carries what a full computation writes
        }
    }

    private static uint Fold(uint s) { while (s >> 16 != 0) s = (s & 0xffff) + (s >> 16); return s; }

    [Theory]
    [InlineData(0x02, 0)]      // SYN
    [InlineData(0x18, 1400)]   // PSH|ACK with data
    [InlineData(0x11, 0)]      // FIN|ACK
    [InlineData(0x18, 1)]      // odd length
    public void Tcp_source_nat_and_its_reversal_keep_valid_checksums(byte flags, int len)
    {
        var payload = new byte[len];
        new Random(len).NextBytes(payload);
        var p = Ip(6, Client.Value, Server.Value, Tcp(40000, 80, flags, 12345, payload));
        Assert.Equal(ParseStatus.Ok, PacketView.Parse(p, out var v));
        Assert.Equal(new FiveTuple(Protocol.Tcp, Client, Server, 40000, 80), v.Tuple);
        Assert.Equal(flags, v.TcpFlags);
        Assert.Equal(len, v.PayloadLength);
        var to = new FiveTuple(Protocol.Tcp, Nat, Server, 55667, 80);
        Rewriter.Rewrite(p, v, to);
        Assert.True(Valid(p));
        Assert.Equal(Ip(6, Nat.Value, Server.Value, Tcp(55667, 80, flags, 12345, payload)), p);

        var reply = Ip(6, Server.Value, Nat.Value, Tcp(80, 55667, 0x12, 999, payload));
        PacketView.Parse(reply, out var rv);
        Rewriter.Rewrite(reply, rv, new FiveTuple(Protocol.Tcp, Server, Client, 80, 40000));
        Assert.Equal(Ip(6, Server.Value, Client.Value, Tcp(80, 40000, 0x12, 999, payload)), reply);
    }

    [Fact]
    public void Udp_rewrite_keeps_a_zero_checksum_zero_and_updates_a_present_one()
    {
        var p = Ip(17, Client.Value, Server.Value, Udp(5353, 53, "query"u8.ToArray()));
        PacketView.Parse(p, out var v);
        var to = new FiveTuple(Protocol.Udp, Nat, Server, 1024, 53);
        Rewriter.Rewrite(p, v, to);
        Assert.Equal(Ip(17, Nat.Value, Server.Value, Udp(1024, 53, "query"u8.ToArray())), p);

        var none = Ip(17, Client.Value, Server.Value, Udp(5353, 53, "query"u8.ToArray()));
        none[20 + 6] = 0; none[20 + 7] = 0; // "no checksum"
        PacketView.Parse(none, out var nv);
        Rewriter.Rewrite(none, nv, to);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(none.AsSpan(26)));
        Assert.True(Valid(none));
    }

    [Fact]
    public void Random_udp_and_tcp_rewrites_always_verify()
    {
        var rng = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            var payload = new byte[rng.Next(0, 300)];
            rng.NextBytes(payload);
            uint s = (uint)rng.Next(), d = (uint)rng.Next();
            ushort sp = (ushort)rng.Next(65536), dp = (ushort)rng.Next(65536);
            bool tcp = i % 2 == 0;
            var p = Ip(tcp ? (byte)6 : (byte)17, s, d, tcp ? Tcp(sp, dp, 0x10, (uint)rng.Next(), payload) : Udp(sp, dp, payload), ihl: i % 3 == 0 ? 24 : 20);
            PacketView.Parse(p, out var v);
            var to = new FiveTuple(v.Tuple.Proto, new IPv4((uint)rng.Next()), new IPv4((uint)rng.Next()), (ushort)rng.Next(65536), (ushort)rng.Next(65536));
            Rewriter.Rewrite(p, v, to);
            Assert.True(Valid(p), $"case {i}");
            PacketView.Parse(p, out var after);
            Assert.Equal(to, after.Tuple);
        }
    }

    [Fact]
    public void Icmp_echo_id_is_rewritten_with_the_icmp_checksum_and_no_pseudo_header()
    {
        var p = Ip(1, Client.Value, Server.Value, Icmp(8, 0, 4660, 1, "ping"u8.ToArray()));
        PacketView.Parse(p, out var v);
        Assert.Equal(FiveTuple.Icmp(Client, Server, 8, 0, 4660), v.Tuple);
        Rewriter.Rewrite(p, v, FiveTuple.Icmp(Nat, Server, 8, 0, 17));
        Assert.Equal(Ip(1, Nat.Value, Server.Value, Icmp(8, 0, 17, 1, "ping"u8.ToArray())), p);
    }

    [Fact]
    public void Port_unreachable_about_a_natted_udp_flow_is_translated_with_its_quoted_header()
    {
        // What NAT sent (10.0.2.15:1024 -> server:53), and the server's error about it, to the NAT address.
        var sent = Ip(17, Nat.Value, Server.Value, Udp(1024, 53, "query"u8.ToArray()));
        var error = Ip(1, Server.Value, Nat.Value, IcmpError(3, 3, sent, quote: sent.Length - 20));
        Assert.Equal(ParseStatus.Ok, PacketView.Parse(error, out var v));
        Assert.True(v.IsIcmpError);
        Assert.Equal(new FiveTuple(Protocol.Udp, Nat, Server, 1024, 53), v.InnerTuple);
        var original = new FiveTuple(Protocol.Udp, Client, Server, 5353, 53);
        Rewriter.RewriteIcmpError(error, v, Server, Client, original);
        // As if the server had answered the client's own packet.
        var clientSent = Ip(17, Client.Value, Server.Value, Udp(5353, 53, "query"u8.ToArray()));
        Assert.Equal(Ip(1, Server.Value, Client.Value, IcmpError(3, 3, clientSent, quote: clientSent.Length - 20)), error);
        Assert.True(Valid(error));
    }

    [Fact]
    public void Time_exceeded_quoting_8_bytes_of_tcp_changes_ports_and_leaves_the_unquoted_checksum_alone()
    {
        var sent = Ip(6, Nat.Value, Server.Value, Tcp(55667, 80, 0x02, 1, []));
        var error = Ip(1, IPv4.Parse("10.0.2.254").Value, Nat.Value, IcmpError(11, 0, sent, quote: 8));
        PacketView.Parse(error, out var v);
        Rewriter.RewriteIcmpError(error, v, IPv4.Parse("10.0.2.254"), Client, new FiveTuple(Protocol.Tcp, Client, Server, 40000, 80));
        Assert.True(Valid(error));
        PacketView.Parse(error, out var after);
        Assert.Equal(new FiveTuple(Protocol.Tcp, Client, Server, 40000, 80), after.InnerTuple);
        Assert.Equal(Client, after.Tuple.Dst);
        int inner = after.InnerOffset;
        Assert.Equal(0xffff, (int)Checksum.Sum(error.AsSpan(inner, 20))); // the quoted IP header still verifies
    }

    [Fact]
    public void Fragments_truncated_and_other_protocols_are_told_apart()
    {
        var p = Ip(6, Client.Value, Server.Value, Tcp(1, 2, 0x10, 0, new byte[16]));
        var frag = (byte[])p.Clone();
        frag[7] = 10; // fragment offset 80
        Assert.Equal(ParseStatus.Fragment, PacketView.Parse(frag, out _));
        Assert.Equal(ParseStatus.Truncated, PacketView.Parse(p.AsSpan(0, 24), out _));
        var gre = Ip(47, Client.Value, Server.Value, new byte[8]);
        Assert.Equal(ParseStatus.UnsupportedProtocol, PacketView.Parse(gre, out _));
        Assert.Equal(ParseStatus.NotIpv4, PacketView.Parse(new byte[40] { 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, out _));
    }
}
