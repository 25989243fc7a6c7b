namespace ActorNat.Core.Net;

/// <summary>
/// A conntrack tuple. For TCP/UDP the ports; for ICMP, as the kernel keys it (icmp_pkt_to_tuple), <see cref="SPort"/>
/// carries the id and <see cref="DPort"/> carries type &lt;&lt; 8 | code. One 16-byte value type, so it hashes without allocating.
/// </summary>
public readonly record struct FiveTuple(Protocol Proto, IPv4 Src, IPv4 Dst, ushort SPort, ushort DPort)
{
    public const byte IcmpEchoRequest = Net.Icmp.EchoRequest;
    public const byte IcmpEchoReply = Net.Icmp.EchoReply;

    public static FiveTuple Icmp(IPv4 src, IPv4 dst, byte type, byte code, ushort id) =>
        new(Protocol.Icmp, src, dst, id, (ushort)(type << 8 | code));

    public byte IcmpType => (byte)(DPort >> 8);
    public byte IcmpCode => (byte)DPort;
    public ushort IcmpId => SPort;

    /// <summary>
    /// The tuple of the answer before any NAT: addresses and ports swapped; an ICMP request or reply turns into its
    /// counterpart (invmap[]: 8↔0, 13↔14, 15↔16, 17↔18) with the same code and id. A type the kernel cannot invert keeps
    /// its type (such a tuple is never tracked: see <see cref="CanInvert"/>).
    /// </summary>
    public FiveTuple Invert()
    {
        if (Proto != Protocol.Icmp) return new FiveTuple(Proto, Dst, Src, DPort, SPort);
        var type = Net.Icmp.TryInverseType(IcmpType, out var inverse) ? inverse : IcmpType;
        return Icmp(Dst, Src, type, IcmpCode, SPort);
    }

    /// <summary>nf_ct_invert_tuple succeeds: any TCP/UDP tuple, an ICMP tuple only of a request or reply type.</summary>
    public bool CanInvert => Proto != Protocol.Icmp || Net.Icmp.TryInverseType(IcmpType, out _);

    /// <summary>The "mangled" key of a tuple: the port that NAT rewrites (source port, or ICMP id).</summary>
    public ushort Key => SPort;

    public FiveTuple WithSource(IPv4 src, ushort sport) => this with { Src = src, SPort = sport };
    public FiveTuple WithDestination(IPv4 dst, ushort dport) => Proto == Protocol.Icmp
        ? this with { Dst = dst, SPort = dport }
        : this with { Dst = dst, DPort = dport };

    /// <summary>The conntrack-tools rendering: "src=… dst=… sport=… dport=…" or "src=… dst=… type=… code=… id=…".</summary>
    public override string ToString() => Proto == Protocol.Icmp
        ? $"src={Src} dst={Dst} type={IcmpType} code={IcmpCode} id={IcmpId}"
        : $"src={Src} dst={Dst} sport={SPort} dport={DPort}";
}
