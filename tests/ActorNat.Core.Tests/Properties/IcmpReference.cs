using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Tests.Properties;

/// <summary>
/// What the kernel does with one ICMP packet, written down from its source independently of ActorNat's code:
/// net/netfilter/nf_conntrack_proto_icmp.c (valid_new[], invmap[], nf_conntrack_icmpv4_error) and
/// include/linux/icmp.h (icmp_is_err), net/netfilter/nf_nat_proto.c (nf_nat_icmp_reply_translation).
/// </summary>
public static class IcmpReference
{
    /// <summary>NR_ICMP_TYPES.</summary>
    private const int NrIcmpTypes = 18;

    /// <summary>valid_new[]: [ICMP_ECHO] [ICMP_TIMESTAMP] [ICMP_INFO_REQUEST] [ICMP_ADDRESS] = 1.</summary>
    private static readonly bool[] ValidNew = Table((8, 1), (13, 1), (15, 1), (17, 1)).Select(v => v != 0).ToArray();

    /// <summary>invmap[] (the kernel stores type + 1, 0 meaning "cannot invert").</summary>
    private static readonly int[] InvMap = Table((8, 0 + 1), (0, 8 + 1), (13, 14 + 1), (14, 13 + 1), (15, 16 + 1), (16, 15 + 1), (17, 18 + 1), (18, 17 + 1));

    /// <summary>icmp_is_err(): ICMP_DEST_UNREACH, ICMP_SOURCE_QUENCH, ICMP_REDIRECT, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB.</summary>
    private static bool IsErr(int type) => type is 3 or 4 or 5 or 11 or 12;

    private static int[] Table(params (int Index, int Value)[] entries)
    {
        var t = new int[NrIcmpTypes + 1];
        foreach (var (i, v) in entries) t[i] = v;
        return t;
    }

    public enum Counter { None, Invalid, Error }

    /// <summary>The expected answer to a packet that belongs to no connection (a client's, without a valid quote).</summary>
    public static (VerdictKind Kind, Counter Counter, int ReplyType) Alone(int type)
    {
        if (type > NrIcmpTypes) return (VerdictKind.Untracked, Counter.Error, -1);  // "invalid icmp type"
        if (IsErr(type)) return (VerdictKind.Untracked, Counter.Error, -1);        // nf_conntrack_inet_error finds nothing
        if (InvMap[type] == 0) return (VerdictKind.Untracked, Counter.Invalid, -1); // init_conntrack: cannot invert
        if (!ValidNew[type]) return (VerdictKind.Untracked, Counter.Invalid, -1);   // icmp_packet: cannot create
        return (VerdictKind.Translate, Counter.None, InvMap[type] - 1);
    }

    /// <summary>An error from the server quoting a NATed flow's packet: RELATED, translated; a redirect is dropped.</summary>
    public static VerdictKind AboutNatedFlow(int type) =>
        !IsErr(type) ? throw new ArgumentException("not an error type", nameof(type))
            : type == 5 ? VerdictKind.Drop : VerdictKind.Translate;

    public static bool IsErrorType(int type) => type <= NrIcmpTypes && IsErr(type);

    /// <summary>The configuration both halves of the property run with (the article's MASQUERADE box).</summary>
    public static readonly string[] Config =
    [
        "ip addr add 172.18.0.1/16 dev docker0",
        "ip addr add 10.0.2.15/24 dev eth0",
        "ip route add default via 10.0.2.2",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
    ];

    public static readonly IPv4 Client = IPv4.Parse("172.18.0.2"), Server = IPv4.Parse("192.0.2.80"), NatIp = IPv4.Parse("10.0.2.15");

    /// <summary>Checks one packet's verdict against the reference; returns a description of the mismatch, or null.</summary>
    public static string? CheckAlone(int type, int code, in Verdict v, long invalidDelta, long errorDelta)
    {
        var (kind, counter, replyType) = Alone(type);
        if (v.Kind != kind) return $"type {type} code {code}: {v.Kind}, kernel {kind}";
        long wantInvalid = counter == Counter.Invalid ? 1 : 0, wantError = counter == Counter.Error ? 1 : 0;
        if (invalidDelta != wantInvalid || errorDelta != wantError)
            return $"type {type} code {code}: invalid +{invalidDelta} error +{errorDelta}, kernel +{wantInvalid} +{wantError}";
        if (kind == VerdictKind.Translate)
        {
            if (!v.Created || v.Rewritten.Src != NatIp) return $"type {type} code {code}: not a new translated entry";
            var reply = v.Rewritten.Invert();
            if (reply.IcmpType != replyType || reply.IcmpCode != code) return $"type {type} code {code}: reply type {reply.IcmpType}/{reply.IcmpCode}, kernel {replyType}/{code}";
        }
        else if (v.ConntrackId != 0 || v.Rewritten.Src != Client) return $"type {type} code {code}: untracked but changed or named an entry";
        return null;
    }

    public static string? CheckRelated(int type, int code, in Verdict v, ulong flowId, in FiveTuple original)
    {
        var kind = AboutNatedFlow(type);
        if (v.Kind != kind) return $"error type {type} code {code}: {v.Kind}, kernel {kind}";
        if (kind == VerdictKind.Drop) return v.Reason == DropReason.RedirectNat ? null : $"redirect dropped as {v.Reason}";
        if (!v.Related || v.ConntrackId != flowId) return $"error type {type} code {code}: not related to the flow";
        if (v.Rewritten.Dst != original.Src || v.Rewritten.Src != Server) return $"error type {type} code {code}: outer {v.Rewritten}";
        if (v.Embedded != original) return $"error type {type} code {code}: quoted {v.Embedded}, want {original}";
        return null;
    }
}
