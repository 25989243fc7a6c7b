namespace ActorNat.Core.Nat;

public enum DecisionKind : byte { NoNat, Nat, Drop }

public enum DropReason : byte
{
    None = 0,
    /// <summary>No route to the destination.</summary>
    NoRoute,
    /// <summary>MASQUERADE on an interface without a usable address.</summary>
    NoAddress,
    /// <summary>Every tuple in the range is taken (insert_failed, drop).</summary>
    PortsExhausted,
    /// <summary>The packet is invalid for its connection's state, or its flags are.</summary>
    Invalid,
    /// <summary>The table is full and holds no unassured entry to drop.</summary>
    TableFull,
    /// <summary>An ICMP redirect about a NATed connection (nf_nat_icmp_reply_translation drops it).</summary>
    RedirectNat,
}

public static class DropReasons
{
    public static string Name(this DropReason r) => r switch
    {
        DropReason.NoRoute => "no-route",
        DropReason.NoAddress => "no-address",
        DropReason.PortsExhausted => "ports-exhausted",
        DropReason.Invalid => "invalid",
        DropReason.TableFull => "table-full",
        DropReason.RedirectNat => "icmp-redirect-nat",
        _ => "none",
    };
}

/// <summary>
/// What the routing and rule evaluation decided for the first packet of a connection: the NAT range to allocate
/// from (or none), the matched rule, and the MASQUERADE interface.
/// </summary>
public readonly record struct NatDecision(DecisionKind Kind, DropReason Reason, NatRange Range, int RuleIndex, string OutInterface, bool Masquerade)
{
    public static NatDecision Drop(DropReason reason, string outInterface = "") => new(DecisionKind.Drop, reason, default, -1, outInterface, false);
}
