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
}

/// <summary>The answer for one packet.</summary>
public readonly record struct Verdict(VerdictKind Kind, DropReason Reason, FiveTuple Rewritten, Direction Direction, ulong ConntrackId, bool Created)
{
    public static Verdict Dropped(DropReason reason, in FiveTuple tuple) => new(VerdictKind.Drop, reason, tuple, Direction.Original, 0, false);
}
