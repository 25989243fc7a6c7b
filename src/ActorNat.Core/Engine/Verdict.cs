using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Engine;

public enum VerdictKind : byte
{
    /// <summary>Forward the packet rewritten to <see cref="Verdict.Rewritten"/>.</summary>
    Translate,
    /// <summary>Forward the packet unchanged (tracked, no NAT).</summary>
    NoNat,
    /// <summary>Drop the packet; <see cref="Verdict.Reason"/> says why.</summary>
    Drop,
    /// <summary>
    /// Forward the packet unchanged: conntrack does not track it (an ICMP reply or other type with no connection,
    /// counted invalid; an ICMP error about no connection or a type above 18, counted error). No entry, no NAT.
    /// </summary>
    Untracked,
}

/// <summary>
/// The answer for one packet. For an ICMP error RELATED to a connection, <see cref="Embedded"/> is the quoted header
/// rewritten (nf_nat_icmp_reply_translation), <see cref="Rewritten"/> the outer header rewritten, and
/// <see cref="ConntrackId"/> / <see cref="Direction"/> name the connection and which way the quoted packet went back.
/// </summary>
public readonly record struct Verdict(VerdictKind Kind, DropReason Reason, FiveTuple Rewritten, Direction Direction, ulong ConntrackId, bool Created)
{
    /// <summary>The quoted header after NAT; set only when the packet is an ICMP error RELATED to a connection.</summary>
    public FiveTuple? Embedded { get; init; }

    public bool Related => Embedded is not null;

    public static Verdict Dropped(DropReason reason, in FiveTuple tuple) => new(VerdictKind.Drop, reason, tuple, Direction.Original, 0, false);

    public static Verdict Untracked(in FiveTuple tuple) => new(VerdictKind.Untracked, DropReason.None, tuple, Direction.Original, 0, false);

    /// <summary>
    /// The first packet of a connection that conntrack refuses to track: an ICMP packet passes untracked (the kernel
    /// accepts it, counted invalid), anything else is dropped as invalid (as this engine has always treated TCP).
    /// </summary>
    public static Verdict InvalidNew(in FiveTuple tuple) =>
        tuple.Proto == Protocol.Icmp ? Untracked(tuple) : Dropped(DropReason.Invalid, tuple);
}
