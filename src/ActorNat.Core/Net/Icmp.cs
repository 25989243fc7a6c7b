namespace ActorNat.Core.Net;

/// <summary>What conntrack does with an ICMP packet of a given type, before any lookup.</summary>
public enum IcmpClass : byte
{
    /// <summary>8, 13, 15, 17: may open a connection (valid_new[]), answered by its own reply type (invmap[]).</summary>
    Request,
    /// <summary>0, 14, 16, 18: tracked when it answers a connection; alone it opens nothing (counted invalid).</summary>
    Reply,
    /// <summary>3, 4, 5, 11, 12: an error, RELATED to the connection of the header it quotes, or counted as an error.</summary>
    Error,
    /// <summary>1, 2, 6, 7, 9, 10: cannot be inverted, so never tracked (counted invalid).</summary>
    Other,
    /// <summary>19-255: above NR_ICMP_TYPES; icmp_error refuses it before any lookup (counted error).</summary>
    Unknown,
}

/// <summary>
/// The kernel's ICMP tables (net/netfilter/nf_conntrack_proto_icmp.c, include/linux/icmp.h), in one place:
/// valid_new[] (the types that open a connection), invmap[] (each request's reply type, both ways),
/// icmp_is_err() (the error types) and NR_ICMP_TYPES (18).
/// </summary>
public static class Icmp
{
    public const byte EchoReply = 0, DestUnreachable = 3, SourceQuench = 4, Redirect = 5, EchoRequest = 8,
        TimeExceeded = 11, ParameterProblem = 12, Timestamp = 13, TimestampReply = 14, InfoRequest = 15,
        InfoReply = 16, AddressMask = 17, AddressMaskReply = 18;

    /// <summary>NR_ICMP_TYPES: the highest type conntrack knows.</summary>
    public const byte MaxKnownType = 18;

    public static IcmpClass Classify(byte type) => type switch
    {
        EchoRequest or Timestamp or InfoRequest or AddressMask => IcmpClass.Request,
        EchoReply or TimestampReply or InfoReply or AddressMaskReply => IcmpClass.Reply,
        DestUnreachable or SourceQuench or Redirect or TimeExceeded or ParameterProblem => IcmpClass.Error,
        > MaxKnownType => IcmpClass.Unknown,
        _ => IcmpClass.Other,
    };

    /// <summary>valid_new[]: only a request type creates a connection.</summary>
    public static bool OpensConnection(byte type) => Classify(type) == IcmpClass.Request;

    /// <summary>icmp_is_err().</summary>
    public static bool IsError(byte type) => Classify(type) == IcmpClass.Error;

    /// <summary>invmap[]: 8↔0, 13↔14, 15↔16, 17↔18; false for every other type (icmp_invert_tuple fails).</summary>
    public static bool TryInverseType(byte type, out byte inverse)
    {
        inverse = type switch
        {
            EchoRequest => EchoReply, EchoReply => EchoRequest,
            Timestamp => TimestampReply, TimestampReply => Timestamp,
            InfoRequest => InfoReply, InfoReply => InfoRequest,
            AddressMask => AddressMaskReply, AddressMaskReply => AddressMask,
            _ => 0,
        };
        return Classify(type) is IcmpClass.Request or IcmpClass.Reply;
    }
}
