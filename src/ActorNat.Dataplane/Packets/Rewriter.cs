using System.Buffers.Binary;
using ActorNat.Core.Net;

namespace ActorNat.Dataplane.Packets;

/// <summary>
/// Rewrites a parsed IPv4 packet in place to a NAT verdict's tuple, updating the IP header checksum and the transport
/// checksum incrementally (RFC 1624): addresses are in the TCP/UDP pseudo-header, ports and the ICMP id are in the
/// covered data. A UDP checksum of 0 ("none") stays 0. Pure: no I/O.
/// </summary>
public static class Rewriter
{
    /// <summary>Rewrites source, destination and ports (ICMP: the query id) to <paramref name="to"/>.</summary>
    public static void Rewrite(Span<byte> p, in PacketView v, in FiveTuple to)
    {
        var from = v.Tuple;
        int l4 = v.L4Offset;
        int check = CheckOffset(from.Proto, l4);
        bool pseudo = from.Proto != Protocol.Icmp;
        bool hasCheck = !(from.Proto == Protocol.Udp && Read16(p, check) == 0);
        if (from.Src != to.Src) SetAddress(p, PacketView.IpSrc, to.Src.Value, pseudo && hasCheck ? check : -1);
        if (from.Dst != to.Dst) SetAddress(p, PacketView.IpDst, to.Dst.Value, pseudo && hasCheck ? check : -1);
        if (from.Proto == Protocol.Icmp)
        {
            if (PacketView.IsQueryType(from.IcmpType) && from.IcmpId != to.IcmpId) SetWord(p, l4 + 4, to.IcmpId, check);
        }
        else
        {
            if (from.SPort != to.SPort) SetWord(p, l4, to.SPort, hasCheck ? check : -1);
            if (from.DPort != to.DPort) SetWord(p, l4 + 2, to.DPort, hasCheck ? check : -1);
            if (from.Proto == Protocol.Udp && hasCheck && Read16(p, check) == 0) Write16(p, check, 0xffff); // 0 means "none" in UDP
        }
    }

    /// <summary>
    /// Translates an ICMP error about a NATed flow, as the kernel does for RELATED packets: the outer address of the
    /// NATed side (<paramref name="outerSrc"/>/<paramref name="outerDst"/>), the quoted header to <paramref name="inner"/>
    /// (its IP checksum incrementally; a quoted UDP checksum when present; a quoted TCP checksum only when the whole TCP
    /// header is quoted, as the kernel does), then the ICMP checksum over the whole message.
    /// </summary>
    public static void RewriteIcmpError(Span<byte> p, in PacketView v, IPv4 outerSrc, IPv4 outerDst, in FiveTuple inner)
    {
        var from = v.InnerTuple;
        int ip = v.InnerOffset, l4 = v.InnerL4Offset;
        int quotedL4 = p.Length - l4;
        int check = -1;
        if (from.Proto == Protocol.Udp && quotedL4 >= 8 && Read16(p, l4 + 6) != 0) check = l4 + 6;
        else if (from.Proto == Protocol.Tcp && quotedL4 >= 20) check = l4 + 16;
        else if (from.Proto == Protocol.Icmp && quotedL4 >= 8) check = l4 + 2;
        bool pseudo = from.Proto != Protocol.Icmp;
        if (from.Src != inner.Src) SetAddressAt(p, ip, PacketView.IpSrc, inner.Src.Value, pseudo ? check : -1);
        if (from.Dst != inner.Dst) SetAddressAt(p, ip, PacketView.IpDst, inner.Dst.Value, pseudo ? check : -1);
        if (from.Proto == Protocol.Icmp)
        {
            if (PacketView.IsQueryType(from.IcmpType) && from.IcmpId != inner.IcmpId) SetWord(p, l4 + 4, inner.IcmpId, check);
        }
        else
        {
            if (from.SPort != inner.SPort) SetWord(p, l4, inner.SPort, check);
            if (from.DPort != inner.DPort) SetWord(p, l4 + 2, inner.DPort, check);
        }
        var outer = v.Tuple;
        if (outer.Src != outerSrc) SetAddress(p, PacketView.IpSrc, outerSrc.Value, -1);
        if (outer.Dst != outerDst) SetAddress(p, PacketView.IpDst, outerDst.Value, -1);
        // The ICMP checksum covers the quoted header that just changed: computed again over the message.
        int total = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        var icmp = p[v.L4Offset..Math.Min(total, p.Length)];
        Write16(icmp, 2, 0);
        Write16(icmp, 2, Checksum.Compute(icmp));
    }

    /// <summary>Where the transport checksum field is.</summary>
    public static int CheckOffset(Protocol proto, int l4) => proto switch
    {
        Protocol.Tcp => l4 + 16,
        Protocol.Udp => l4 + 6,
        _ => l4 + 2,
    };

    private static void SetAddress(Span<byte> p, int field, uint now, int l4Check) => SetAddressAt(p, 0, field, now, l4Check);

    /// <summary>Writes an address of the IP header at <paramref name="ip"/>, updating its checksum and (if ≥ 0) the transport checksum.</summary>
    private static void SetAddressAt(Span<byte> p, int ip, int field, uint now, int l4Check)
    {
        uint old = BinaryPrimitives.ReadUInt32BigEndian(p[(ip + field)..]);
        BinaryPrimitives.WriteUInt32BigEndian(p[(ip + field)..], now);
        Write16(p, ip + PacketView.IpCheck, Checksum.Update32(Read16(p, ip + PacketView.IpCheck), old, now));
        if (l4Check >= 0) Write16(p, l4Check, Checksum.Update32(Read16(p, l4Check), old, now));
    }

    private static void SetWord(Span<byte> p, int at, ushort now, int check)
    {
        ushort old = Read16(p, at);
        Write16(p, at, now);
        if (check >= 0) Write16(p, check, Checksum.Update16(Read16(p, check), old, now));
    }

    private static ushort Read16(ReadOnlySpan<byte> p, int at) => BinaryPrimitives.ReadUInt16BigEndian(p[at..]);
    private static void Write16(Span<byte> p, int at, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(p[at..], value);
}
