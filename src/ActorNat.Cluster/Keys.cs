using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Cluster;

/// <summary>
/// Entity ids. A connection's id is the smaller of its ORIGINAL tuple and that tuple's inverse, so an answer to an
/// untranslated connection (reply = inverse) reaches the same entity in one hop. A pool is one NAT address's share of
/// the reply-tuple space for one bucket of server endpoints: the reply tuple names its pool, so an answer finds its
/// entry in one hop, and every candidate of one allocation lies in one pool.
/// </summary>
public static class Keys
{
    public static FiveTuple Symmetric(in FiveTuple t)
    {
        var i = t.Invert();
        return Compare(t, i) <= 0 ? t : i;
    }

    private static int Compare(in FiveTuple a, in FiveTuple b)
    {
        int c = a.Src.Value.CompareTo(b.Src.Value);
        if (c != 0) return c;
        c = a.Dst.Value.CompareTo(b.Dst.Value);
        if (c != 0) return c;
        c = a.SPort.CompareTo(b.SPort);
        return c != 0 ? c : a.DPort.CompareTo(b.DPort);
    }

    public static string Conntrack(in FiveTuple original)
    {
        var k = Symmetric(original);
        return $"{(byte)k.Proto}-{k.Src.Value:x8}-{k.SPort}-{k.Dst.Value:x8}-{k.DPort}";
    }

    /// <summary>The pool holding a reply tuple: its protocol, NAT address (reply destination) and server bucket.</summary>
    public static string PoolOfReply(in FiveTuple reply, int buckets) =>
        Pool(reply.Proto, reply.Dst, reply.Src, reply.Proto == Protocol.Icmp ? (ushort)0 : reply.SPort, buckets);

    /// <summary>The pool that decides a NAT address for a new connection towards the original tuple's server.</summary>
    public static string PoolFor(in FiveTuple original, IPv4 natIp, int buckets) =>
        Pool(original.Proto, natIp, original.Dst, original.Proto == Protocol.Icmp ? (ushort)0 : original.DPort, buckets);

    private static string Pool(Protocol proto, IPv4 natIp, IPv4 server, ushort serverPort, int buckets)
    {
        uint h = SnatHash.JHash2(server.Value, serverPort, (uint)proto, 0, 0x4e4154);
        return $"{(byte)proto}/{natIp}/{h % (uint)buckets}";
    }

    /// <summary>The bysource bucket of a client ip:port.</summary>
    public static string SourceBucket(Protocol proto, IPv4 client, ushort clientPort, int buckets) =>
        $"s{SnatHash.JHash2(client.Value, clientPort, (uint)proto, 0, 0x535243) % (uint)buckets}";

    /// <summary>The NAT address a pool key names.</summary>
    public static IPv4 PoolAddress(string pool) => IPv4.Parse(pool.Split('/')[1]);
}
