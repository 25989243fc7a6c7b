using System.Buffers.Binary;
using ActorNat.Core.Net;

namespace ActorNat.Dataplane.Packets;

public enum ParseStatus : byte { Ok, NotIpv4, Truncated, Fragment, UnsupportedProtocol }

/// <summary>
/// Where the fields of one IPv4 packet are, and their values before NAT. An ICMP error also carries the header it quotes
/// (the packet it is about: IP header and at least the first 8 bytes of its transport header). Pure: no I/O.
/// </summary>
public readonly record struct PacketView(
    int L4Offset, FiveTuple Tuple, byte TcpFlags, uint TcpSeq, int PayloadLength,
    bool IsIcmpError, int InnerOffset, int InnerL4Offset, FiveTuple InnerTuple)
{
    public const int IpSrc = 12, IpDst = 16, IpCheck = 10;

    /// <summary>ICMP types that are errors quoting a packet (RFC 792): unreachable, source quench, redirect, time exceeded, parameter problem.</summary>
    public static bool IsErrorType(byte type) => type is 3 or 4 or 5 or 11 or 12;

    /// <summary>ICMP types whose id names a query (echo, timestamp, information, address mask), with the reply types.</summary>
    public static bool IsQueryType(byte type) => type is 0 or 8 or 13 or 14 or 15 or 16 or 17 or 18;

    public static ParseStatus Parse(ReadOnlySpan<byte> p, out PacketView view)
    {
        view = default;
        var status = ParseHeader(p, quoted: false, out int l4, out var tuple, out byte flags, out uint seq, out int payload);
        if (status != ParseStatus.Ok) return status;
        if (tuple.Proto == Protocol.Icmp && IsErrorType(tuple.IcmpType))
        {
            int inner = l4 + 8;
            var innerStatus = ParseHeader(p[inner..], quoted: true, out int innerL4, out var innerTuple, out _, out _, out _);
            if (innerStatus != ParseStatus.Ok) return innerStatus == ParseStatus.NotIpv4 ? ParseStatus.Truncated : innerStatus;
            view = new PacketView(l4, tuple, 0, 0, payload, true, inner, inner + innerL4, innerTuple);
            return ParseStatus.Ok;
        }
        view = new PacketView(l4, tuple, flags, seq, payload, false, 0, 0, default);
        return ParseStatus.Ok;
    }

    /// <summary>One IPv4 header and its transport ports; a quoted header may be cut after 8 transport bytes.</summary>
    private static ParseStatus ParseHeader(ReadOnlySpan<byte> p, bool quoted, out int l4, out FiveTuple tuple,
        out byte flags, out uint seq, out int payload)
    {
        l4 = 0; tuple = default; flags = 0; seq = 0; payload = 0;
        if (p.Length < 20) return ParseStatus.Truncated;
        if (p[0] >> 4 != 4) return ParseStatus.NotIpv4;
        int ihl = (p[0] & 0xf) * 4;
        if (ihl < 20 || p.Length < ihl + 8) return ParseStatus.Truncated;
        int total = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        if (!quoted && (total < ihl + 8 || total > p.Length)) return ParseStatus.Truncated;
        if ((BinaryPrimitives.ReadUInt16BigEndian(p[6..]) & 0x1fff) != 0) return ParseStatus.Fragment; // no transport header here
        var src = new IPv4(BinaryPrimitives.ReadUInt32BigEndian(p[IpSrc..]));
        var dst = new IPv4(BinaryPrimitives.ReadUInt32BigEndian(p[IpDst..]));
        l4 = ihl;
        var t = p[ihl..];
        switch (p[9])
        {
            case 6:
                tuple = new FiveTuple(Protocol.Tcp, src, dst, BinaryPrimitives.ReadUInt16BigEndian(t), BinaryPrimitives.ReadUInt16BigEndian(t[2..]));
                seq = BinaryPrimitives.ReadUInt32BigEndian(t[4..]);
                if (quoted) return ParseStatus.Ok;
                if (t.Length < 20) return ParseStatus.Truncated;
                int doff = (t[12] >> 4) * 4;
                flags = (byte)(t[13] & 0x3f);
                payload = Math.Max(0, total - ihl - doff);
                return ParseStatus.Ok;
            case 17:
                tuple = new FiveTuple(Protocol.Udp, src, dst, BinaryPrimitives.ReadUInt16BigEndian(t), BinaryPrimitives.ReadUInt16BigEndian(t[2..]));
                payload = Math.Max(0, total - ihl - 8);
                return ParseStatus.Ok;
            case 1:
                byte type = t[0], code = t[1];
                // Queries are keyed by their id; any other type (errors included) carries no id (the kernel keys them by type/code).
                ushort id = IsQueryType(type) ? BinaryPrimitives.ReadUInt16BigEndian(t[4..]) : (ushort)0;
                tuple = FiveTuple.Icmp(src, dst, type, code, id);
                payload = Math.Max(0, total - ihl - 8);
                return ParseStatus.Ok;
            default:
                return ParseStatus.UnsupportedProtocol;
        }
    }
}
