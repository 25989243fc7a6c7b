using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>Every malformed field is INVALID_ARGUMENT naming the field and the value, and changes nothing.</summary>
public class ValidationTests
{
    public static TheoryData<string, string, string> Malformed() => new()
    {
        // case, expected field, expected value text
        { "bad-src", "packet.src_address", "\"172.18.0.256\"" },
        { "empty-dst", "packet.dst_address", "\"\"" },
        { "shorthand-dst", "packet.dst_address", "\"10.1\"" },
        { "sport-too-big", "packet.src_port", "70000" },
        { "dport-too-big", "packet.dst_port", "65536" },
        { "unknown-proto", "packet.protocol", "99" },
        { "no-proto", "packet.protocol", "unspecified" },
        { "icmp-type-on-tcp", "packet.icmp_type", "8" },
        { "icmp-id-on-udp", "packet.icmp_id", "7" },
        { "ports-on-icmp", "packet.src_port", "1234" },
        { "icmp-type-too-big", "packet.icmp_type", "300" },
        { "icmp-id-too-big", "packet.icmp_id", "70000" },
        { "flags-on-udp", "packet.tcp_flags", "2" },
        { "unknown-tcp-flags", "packet.tcp_flags", "0x42" },
        { "payload-too-big", "packet.payload_length", "70000" },
        { "leading-zero-src", "packet.src_address", "\"172.018.0.2\"" },
        { "embedded-on-echo", "packet.embedded", "set" },
        { "embedded-on-udp", "packet.embedded", "set" },
        { "embedded-bad-src", "packet.embedded.src_address", "\"010.0.2.15\"" },
        { "embedded-port-too-big", "packet.embedded.dst_port", "70000" },
        { "embedded-no-proto", "packet.embedded.protocol", "unspecified" },
        { "embedded-ports-on-icmp", "packet.embedded.src_port", "5" },
        { "src-ip-without-dst-ip", "packet.dst_ip", "unset" },
        { "dst-ip-without-src-ip", "packet.src_ip", "unset" },
        { "src-ip-and-src-address", "packet.src_address", "\"172.18.0.2\"" },
        { "embedded-dst-ip-and-address", "packet.embedded.dst_address", "\"192.0.2.80\"" },
    };

    private static Wire.PacketMeta PortUnreachable(Wire.Tuple quoted) => new()
    {
        Protocol = Wire.IpProtocol.Icmp, SrcAddress = "192.0.2.80", DstAddress = "10.0.2.15", IcmpType = 3, IcmpCode = 3, Embedded = quoted,
    };

    private static Wire.Tuple Quoted() => new()
        { Protocol = Wire.IpProtocol.Udp, SrcAddress = "10.0.2.15", DstAddress = "192.0.2.80", SrcPort = 41000, DstPort = 9999 };

    public static Wire.PacketMeta Build(string name)
    {
        var p = LiveNode.Tcp("172.18.0.2", 40000, "192.0.2.80", 80, LiveNode.Syn);
        switch (name)
        {
            case "bad-src": p.SrcAddress = "172.18.0.256"; break;
            case "empty-dst": p.DstAddress = ""; break;
            case "shorthand-dst": p.DstAddress = "10.1"; break;
            case "sport-too-big": p.SrcPort = 70000; break;
            case "dport-too-big": p.DstPort = 65536; break;
            case "unknown-proto": p.Protocol = (Wire.IpProtocol)99; break;
            case "no-proto": p.Protocol = Wire.IpProtocol.Unspecified; break;
            case "icmp-type-on-tcp": p.IcmpType = 8; break;
            case "icmp-id-on-udp": p = LiveNode.Udp("172.18.0.2", 40000, "192.0.2.53", 53); p.IcmpId = 7; break;
            case "ports-on-icmp": p = new Wire.PacketMeta { Protocol = Wire.IpProtocol.Icmp, SrcAddress = "172.18.0.2", DstAddress = "192.0.2.53", SrcPort = 1234 }; break;
            case "icmp-type-too-big": p = new Wire.PacketMeta { Protocol = Wire.IpProtocol.Icmp, SrcAddress = "172.18.0.2", DstAddress = "192.0.2.53", IcmpType = 300 }; break;
            case "icmp-id-too-big": p = new Wire.PacketMeta { Protocol = Wire.IpProtocol.Icmp, SrcAddress = "172.18.0.2", DstAddress = "192.0.2.53", IcmpId = 70000 }; break;
            case "flags-on-udp": p = LiveNode.Udp("172.18.0.2", 40000, "192.0.2.53", 53); p.TcpFlags = 2; break;
            case "unknown-tcp-flags": p.TcpFlags = 0x42; break;
            case "payload-too-big": p.PayloadLength = 70000; break;
            case "leading-zero-src": p.SrcAddress = "172.018.0.2"; break;
            case "embedded-on-echo": p = PortUnreachable(Quoted()); p.IcmpType = 8; break;
            case "embedded-on-udp": p = LiveNode.Udp("172.18.0.2", 40000, "192.0.2.53", 53); p.Embedded = Quoted(); break;
            case "embedded-bad-src": p = PortUnreachable(Quoted()); p.Embedded.SrcAddress = "010.0.2.15"; break;
            case "embedded-port-too-big": p = PortUnreachable(Quoted()); p.Embedded.DstPort = 70000; break;
            case "embedded-no-proto": p = PortUnreachable(Quoted()); p.Embedded.Protocol = Wire.IpProtocol.Unspecified; break;
            case "embedded-ports-on-icmp": p = PortUnreachable(Quoted()); p.Embedded.Protocol = Wire.IpProtocol.Icmp; p.Embedded.SrcPort = 5; p.Embedded.DstPort = 0; break;
            case "src-ip-without-dst-ip": p.SrcIp = 0xAC120002; p.SrcAddress = ""; break;
            case "dst-ip-without-src-ip": p.DstIp = 0xC0000250; p.DstAddress = ""; break;
            case "src-ip-and-src-address": p.SrcIp = 0xAC120002; p.DstIp = 0xC0000250; p.DstAddress = ""; break;
            case "embedded-dst-ip-and-address": p = PortUnreachable(Quoted()); p.Embedded.SrcIp = 0x0A00020F; p.Embedded.DstIp = 0xC0000250; p.Embedded.SrcAddress = ""; break;
            default: throw new ArgumentException(name);
        }
        return p;
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Malformed_packet_is_invalid_argument_naming_field_and_value_and_changes_nothing(string name, string field, string value)
    {
        await using var n = await LiveNode.StartArticleAsync();
        var statsBefore = (await n.Admin.ConntrackStatsAsync(new Wire.Empty())).ToString();

        var e = await Assert.ThrowsAsync<RpcException>(async () => await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = Build(name) }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains($"{field}={value}", e.Status.Detail);

        // Same through a stream: the batch holding it is refused whole, naming the packet's index.
        using var call = n.Nat.TranslateStream();
        await call.RequestStream.WriteAsync(new Wire.PacketBatch
        {
            BatchId = 7,
            Packets = { LiveNode.Udp("172.18.0.2", 41000, "192.0.2.53", 53), Build(name) },
        });
        await call.RequestStream.CompleteAsync();
        var se = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.InvalidArgument, se.StatusCode);
        Assert.Contains($"batch 7 packets[1].{field["packet.".Length..]}={value}", se.Status.Detail);

        Assert.Equal(0ul, await n.CountAsync());
        Assert.Equal(statsBefore, (await n.Admin.ConntrackStatsAsync(new Wire.Empty())).ToString());
    }

    [Fact]
    public async Task Binary_addresses_give_the_same_verdicts_with_binary_tuples()
    {
        await using var n = await LiveNode.StartArticleAsync();
        var text = LiveNode.Udp("172.18.0.2", 40000, "192.0.2.53", 53);
        var binary = LiveNode.Udp("172.18.0.2", 40001, "192.0.2.53", 53);
        binary.SrcAddress = binary.DstAddress = "";
        binary.SrcIp = 0xAC120002; // 172.18.0.2
        binary.DstIp = 0xC0000235; // 192.0.2.53
        var t = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = text });
        var b = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = binary });
        Assert.Equal((Wire.VerdictAction.Translate, "10.0.2.15"), (t.Action, t.Rewritten.SrcAddress));
        Assert.Equal((Wire.VerdictAction.Translate, 0x0A00020Fu, "", 40001u), (b.Action, b.Rewritten.SrcIp, b.Rewritten.SrcAddress, b.Rewritten.SrcPort));
        Assert.Equal((0xC0000235u, 0xAC120002u, 0x0A00020Fu), (b.Rewritten.DstIp, b.Original.SrcIp, b.Reply.DstIp));
        Assert.False(t.Rewritten.HasSrcIp);
        // The answer, binary too, goes back to the client.
        var answer = new Wire.PacketMeta { Protocol = Wire.IpProtocol.Udp, SrcIp = 0xC0000235, DstIp = 0x0A00020F, SrcPort = 53, DstPort = 40001 };
        var back = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = answer });
        Assert.Equal((Wire.PacketDirection.Reply, 0xAC120002u, 40001u, b.ConntrackId), (back.Direction, back.Rewritten.DstIp, back.Rewritten.DstPort, back.ConntrackId));
    }

    [Theory]
    [InlineData("rule", "-s 172.18.0.0/16 -j MASQUERADE --to-ports 1000-2000", "--to-ports")]
    [InlineData("rule", "-s 172.18.0.0/99 -j MASQUERADE", "172.18.0.0/99")]
    [InlineData("rule", "-s 172.18.0.0/16 -j DNAT", "DNAT")]
    [InlineData("addr", "10.0.0.1/24 dev", "dev")]
    [InlineData("addr", "10.0.0.300/24 dev eth1", "10.0.0.300/24")]
    [InlineData("route", "default via 10.0.2.x", "10.0.2.x")]
    [InlineData("route", "10.9.0.0/16 bogus eth0", "bogus")]
    public async Task Bad_rule_route_or_address_is_invalid_argument_naming_the_token(string kind, string spec, string token)
    {
        await using var n = await LiveNode.StartArticleAsync();
        var before = await Snapshot(n);
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            switch (kind)
            {
                case "rule": await n.Admin.RuleAddAsync(new Wire.RuleRequest { Spec = spec }, n.Auth); break;
                case "addr": await n.Admin.AddressAddAsync(new Wire.AddressRequest { Spec = spec }, n.Auth); break;
                default: await n.Admin.RouteAddAsync(new Wire.RouteRequest { Spec = spec }, n.Auth); break;
            }
        });
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains($"wrong token: \"{token}\"", e.Status.Detail);
        Assert.Equal(token, e.Trailers.GetValue("token"));
        Assert.Equal(before, await Snapshot(n));
    }

    private static async Task<string> Snapshot(LiveNode n) =>
        string.Join("\n", (await n.Admin.AddressListAsync(new Wire.ListRequest())).Lines
            .Concat((await n.Admin.RouteListAsync(new Wire.ListRequest())).Lines)
            .Concat((await n.Admin.RuleListAsync(new Wire.ListRequest())).Lines));
}
