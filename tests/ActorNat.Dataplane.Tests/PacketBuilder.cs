using System.Buffers.Binary;
using ActorNat.Dataplane.Packets;

namespace ActorNat.Dataplane.Tests;

/// <summary>Builds IPv4 packets with correct checksums (computed in full), and checks them in full.</summary>
internal static class PacketBuilder
{
    public static byte[] Ip(byte proto, uint src, uint dst, byte[] l4, int ihl = 20)
    {
        var p = new byte[ihl + l4.Length];
        p[0] = (byte)(0x40 | ihl / 4);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), 0x1234);
        p[6] = 0x40; // DF
        p[8] = 64;
        p[9] = proto;
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12), src);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16), dst);
        for (int i = 20; i < ihl; i++) p[i] = 1; // NOP options
        l4.CopyTo(p, ihl);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum.Compute(p.AsSpan(0, ihl)));
        FixL4(p);
        return p;
    }

    public static byte[] Tcp(ushort sport, ushort dport, byte flags, uint seq, byte[] payload)
    {
        var t = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        t[12] = 5 << 4;
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 64240);
        payload.CopyTo(t, 20);
        return t;
    }

    public static byte[] Udp(ushort sport, ushort dport, byte[] payload)
    {
        var u = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        payload.CopyTo(u, 8);
        return u;
    }

    public static byte[] Icmp(byte type, byte code, ushort id, ushort seq, byte[] payload)
    {
        var m = new byte[8 + payload.Length];
        m[0] = type;
        m[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(6), seq);
        payload.CopyTo(m, 8);
        return m;
    }

    /// <summary>An ICMP error quoting the first <paramref name="quote"/> bytes past the IP header of <paramref name="about"/>.</summary>
    public static byte[] IcmpError(byte type, byte code, byte[] about, int quote = 8)
    {
        int ihl = (about[0] & 0xf) * 4;
        var body = about.AsSpan(0, Math.Min(about.Length, ihl + quote)).ToArray();
        var m = new byte[8 + body.Length];
        m[0] = type;
        m[1] = code;
        body.CopyTo(m, 8);
        return m;
    }

    /// <summary>Computes the transport checksum in full (the ICMP one over the whole message).</summary>
    public static void FixL4(byte[] p)
    {
        int ihl = (p[0] & 0xf) * 4;
        var l4 = p.AsSpan(ihl);
        uint src = BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(12)), dst = BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(16));
        switch (p[9])
        {
            case 6:
                BinaryPrimitives.WriteUInt16BigEndian(l4[16..], 0);
                BinaryPrimitives.WriteUInt16BigEndian(l4[16..], Checksum.Compute(l4, Checksum.PseudoHeader(src, dst, 6, l4.Length)));
                break;
            case 17:
                BinaryPrimitives.WriteUInt16BigEndian(l4[6..], 0);
                var c = Checksum.Compute(l4, Checksum.PseudoHeader(src, dst, 17, l4.Length));
                BinaryPrimitives.WriteUInt16BigEndian(l4[6..], c == 0 ? (ushort)0xffff : c);
                break;
            case 1:
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], 0);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], Checksum.Compute(l4));
                break;
        }
    }

    /// <summary>True when the IP header checksum and the transport checksum verify (sum over covered data = 0xffff).</summary>
    public static bool Valid(byte[] p)
    {
        int ihl = (p[0] & 0xf) * 4;
        if (Checksum.Sum(p.AsSpan(0, ihl)) != 0xffff) return false;
        var l4 = p.AsSpan(ihl);
        uint src = BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(12)), dst = BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(16));
        return p[9] switch
        {
            6 => Checksum.Sum(l4, Checksum.PseudoHeader(src, dst, 6, l4.Length)) == 0xffff,
            17 => BinaryPrimitives.ReadUInt16BigEndian(l4[6..]) == 0 || Checksum.Sum(l4, Checksum.PseudoHeader(src, dst, 17, l4.Length)) == 0xffff,
            _ => Checksum.Sum(l4) == 0xffff,
        };
    }

    public static uint A(string dotted) => ActorNat.Core.Net.IPv4.Parse(dotted).Value;
}
