using ActorNat.Core.Net;

namespace ActorNat.Core.Conntrack;

/// <summary>
/// One conntrack entry: both tuples, the protocol state, and where it was masqueraded out (so that removing that
/// address or downing that interface destroys it). A value type stored in the table's array, so creating one allocates
/// nothing once the table has grown.
/// </summary>
public struct ConntrackEntry
{
    public ulong Id;
    public FiveTuple Original;
    public FiveTuple Reply;
    public ConnState State;
    /// <summary>The MASQUERADE out interface (a name from the topology); null for SNAT and untranslated entries.</summary>
    public string? MasqueradeInterface;

    // Intrusive links: the bysource chain (newest first) and the expiry wheel slot.
    internal int BySourceNext, BySourcePrev, WheelNext, WheelPrev, WheelSlot;
    internal long WheelSecond;
    internal readonly long WheelSlotSecond() => WheelSecond;
    internal bool Live;

    public readonly bool Translated => Reply.Dst != Original.Src || ReplyKey != Original.Key;

    /// <summary>The NAT source address (the REPLY destination).</summary>
    public readonly IPv4 NatIp => Reply.Dst;

    /// <summary>The NAT source port or ICMP id (REPLY dport, or REPLY id for ICMP).</summary>
    public readonly ushort NatPort => ReplyKey;

    private readonly ushort ReplyKey => Reply.Proto == Protocol.Icmp ? Reply.SPort : Reply.DPort;
}
