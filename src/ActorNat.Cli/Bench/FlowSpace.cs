using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Bench;

/// <summary>
/// The bench's traffic: UDP flows from 172.18.0.0/16 to 192.0.2.0/24, the article's docker network behind a default route.
/// Flow k's server endpoint (destination host, port) is distinct for the first 254 × 60000 = 15.2M flows, so every new flow
/// has a reply tuple of its own even when its source port is kept: the NAT address's 64512 ports per server endpoint are
/// never what is measured. Source addresses and ports are spread over 65000 hosts × 64000 ports. Address strings are
/// built once, so making a packet costs no formatting.
/// </summary>
public static class FlowSpace
{
    public const int Hosts = 65000;
    public const int Servers = 254;
    public const int ServerPorts = 60000;
    private static readonly string[] SrcNames = Enumerable.Range(0, Hosts).Select(i => $"172.18.{(2 + i) >> 8}.{(2 + i) & 0xff}").ToArray();
    private static readonly string[] DstNames = Enumerable.Range(0, Servers).Select(i => $"192.0.2.{1 + i}").ToArray();

    public readonly record struct Flow(string Src, uint SrcPort, string Dst, uint DstPort);

    /// <summary>The k-th new flow (k ≥ 0); distinct originals and distinct server endpoints for k below 15.2M.</summary>
    public static Flow NewFlow(long k)
    {
        long server = k % ((long)Servers * ServerPorts);
        int dst = (int)(server % Servers);
        uint dport = (uint)(1 + server / Servers);
        int host = (int)((k * 40503L) % Hosts);
        uint sport = (uint)(1024 + (k * 7919L + k / Hosts) % 64000);
        return new Flow(SrcNames[host], sport, DstNames[dst], dport);
    }

    public static Wire.PacketMeta Packet(in Flow f) => new()
    {
        Protocol = Wire.IpProtocol.Udp, SrcAddress = f.Src, SrcPort = f.SrcPort, DstAddress = f.Dst, DstPort = f.DstPort, PayloadLength = 18,
    };

    /// <summary>The answer from the server to the NAT address: the reply direction of an established flow.</summary>
    public static Wire.PacketMeta ReplyPacket(in Flow f, string natIp, uint natPort) => new()
    {
        Protocol = Wire.IpProtocol.Udp, SrcAddress = f.Dst, SrcPort = f.DstPort, DstAddress = natIp, DstPort = natPort, PayloadLength = 18,
    };

    /// <summary>The packet with its addresses as 32-bit numbers (PacketMeta.src_ip/dst_ip) instead of dotted quads.</summary>
    public static Wire.PacketMeta AsBinary(Wire.PacketMeta p)
    {
        p.SrcIp = Core.Net.IPv4.Parse(p.SrcAddress).Value;
        p.DstIp = Core.Net.IPv4.Parse(p.DstAddress).Value;
        p.SrcAddress = p.DstAddress = "";
        return p;
    }

    /// <summary>A verdict with binary tuples, its addresses written out (for the checker, which compares text).</summary>
    public static Wire.Verdict AsText(Wire.Verdict v)
    {
        v = v.Clone();
        foreach (var t in new[] { v.Rewritten, v.Original, v.Reply })
        {
            if (t is null) continue;
            if (t.HasSrcIp) t.SrcAddress = new Core.Net.IPv4(t.SrcIp).ToString();
            if (t.HasDstIp) t.DstAddress = new Core.Net.IPv4(t.DstIp).ToString();
        }
        return v;
    }

    /// <summary>The article's router (oracle scenario "article"): what the bench configures unless --config or --no-config.</summary>
    public static readonly string[] ArticleConfig =
    [
        "ip addr add 172.18.0.1/16 dev docker0",
        "ip addr add 10.0.2.15/24 dev eth0",
        "ip addr add 203.0.113.56/24 dev eth0",
        "ip route add default via 10.0.2.2",
        "ip route add 198.51.100.1 via 203.0.113.4 dev eth0",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
    ];

    /// <summary>With the article's configuration, 192.0.2.0/24 leaves by the default route on eth0: MASQUERADE picks 10.0.2.15.</summary>
    public const string ArticleNatIp = "10.0.2.15";
}
