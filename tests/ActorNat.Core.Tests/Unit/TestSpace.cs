using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Tests.Unit;

/// <summary>A random source that replays given values, then zeros: the allocator's starts become known.</summary>
public sealed class ScriptedRandom(params ushort[] values) : IRandomSource
{
    private int _next;
    public int Calls => _next;
    public ushort NextU16() => _next < values.Length ? values[_next++] : (ushort)(_next++ * 0);
}

public static class Tuples
{
    public static FiveTuple Udp(string src, ushort sport, string dst, ushort dport) =>
        new(Protocol.Udp, IPv4.Parse(src), IPv4.Parse(dst), sport, dport);

    public static FiveTuple Tcp(string src, ushort sport, string dst, ushort dport) =>
        new(Protocol.Tcp, IPv4.Parse(src), IPv4.Parse(dst), sport, dport);

    /// <summary>Inserts an entry holding the reply tuple of <paramref name="original"/> NATed to ip:port.</summary>
    public static int Hold(ConntrackTable table, FiveTuple original, string ip, ushort port, TcpState tcp = TcpState.Established, long expiresMs = long.MaxValue / 2)
    {
        var state = new ConnState { Proto = original.Proto, Tcp = tcp, ExpiresMs = expiresMs, Status = ConnStatus.SrcNat | ConnStatus.SeenReply };
        return table.Insert((ulong)table.Count + 1, original, PortAllocator.ReplyFor(original, IPv4.Parse(ip), port), state, null);
    }
}
