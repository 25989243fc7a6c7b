using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Engine;

/// <summary>How conntrack takes a packet before the lookup (nf_conntrack_handle_icmp).</summary>
public enum TrackStep : byte
{
    /// <summary>Look the packet's own tuple up, and track it (every TCP/UDP packet; ICMP of types 0-18 but the errors).</summary>
    Track,
    /// <summary>Not tracked, counted <c>error</c>: a type above 18, or an error that quotes no invertible header.</summary>
    Error,
    /// <summary>An ICMP error: look up the inverse of the header it quotes; RELATED to that connection if found.</summary>
    Related,
}

/// <summary>
/// ICMP errors as the kernel handles them, once for every backend: nf_conntrack_icmpv4_error and
/// nf_conntrack_inet_error find the connection the quoted header belongs to; nf_nat_icmp_reply_translation rewrites
/// the outer header as the connection's own packets are rewritten and the quoted header back the other way.
/// </summary>
public static class IcmpErrors
{
    /// <summary>
    /// The first step for a packet. For <see cref="TrackStep.Related"/>, <paramref name="lookup"/> is the tuple to find:
    /// the quoted header inverted (the quoted packet went the other way); otherwise the packet's own tuple.
    /// </summary>
    public static TrackStep Classify(in Packet packet, out FiveTuple lookup)
    {
        lookup = packet.Tuple;
        if (packet.Tuple.Proto != Protocol.Icmp) return TrackStep.Track;
        switch (Icmp.Classify(packet.Tuple.IcmpType))
        {
            case IcmpClass.Unknown:
                return TrackStep.Error;
            case IcmpClass.Error:
                // nf_ct_get_tuplepr / nf_ct_invert_tuple on the quoted header: an ICMP quote must be a request or reply.
                if (packet.Embedded is not { } inner || inner.Proto is not (Protocol.Tcp or Protocol.Udp or Protocol.Icmp) || !inner.CanInvert)
                    return TrackStep.Error;
                lookup = inner.Invert();
                return TrackStep.Related;
            default:
                return TrackStep.Track;
        }
    }

    /// <summary>
    /// The verdict for an ICMP error whose quoted header inverted is <paramref name="entry"/>'s tuple in direction
    /// <paramref name="dir"/>; false (not tracked, counted <c>error</c>) when the error is not addressed to the sender
    /// of the packet it quotes (nf_conntrack_inet_error: "outer daddr != inner"). The entry is not refreshed: a RELATED
    /// packet never reaches the protocol's packet handler.
    /// </summary>
    public static bool TryTranslate(in ConntrackEntry entry, Direction dir, in Packet packet, out Verdict verdict)
    {
        var outer = packet.Tuple;
        var inner = packet.Embedded!.Value;
        if (outer.Dst != inner.Src)
        {
            verdict = Verdict.Untracked(outer);
            return false;
        }
        if (!entry.Translated)
        {
            verdict = new Verdict(VerdictKind.NoNat, DropReason.None, outer, dir, entry.Id, false) { Embedded = inner };
            return true;
        }
        if (outer.IcmpType == Icmp.Redirect)
        {
            // A redirect about a NATed connection is dropped (its target address would be wrong on the other side).
            verdict = Verdict.Dropped(DropReason.RedirectNat, outer);
            return true;
        }
        FiveTuple outerNew, innerNew;
        if (dir == Direction.Reply)
        {
            // Towards the client: the outer destination and the quoted source back to the client's own.
            outerNew = outer with { Dst = entry.Original.Src };
            innerNew = inner.WithSource(entry.Original.Src, entry.Original.Key);
        }
        else
        {
            // From the client about a server's packet: the outer source and the quoted destination to the NAT address.
            outerNew = outer with { Src = entry.NatIp };
            innerNew = inner.WithDestination(entry.NatIp, entry.NatPort);
        }
        verdict = new Verdict(VerdictKind.Translate, DropReason.None, outerNew, dir, entry.Id, false) { Embedded = innerNew };
        return true;
    }
}

/// <summary>The checksums a data plane must recompute or adjust after applying a verdict.</summary>
[Flags]
public enum ChecksumFix : byte
{
    None = 0,
    /// <summary>The (outer) IPv4 header checksum: an address changed.</summary>
    IpHeader = 1,
    /// <summary>The (outer) TCP/UDP checksum (pseudo-header and port; UDP only when non-zero), or the ICMP checksum
    /// (recomputed over the whole message for an error; adjusted for a changed echo id).</summary>
    Transport = 2,
    /// <summary>The quoted IPv4 header's checksum (ICMP errors).</summary>
    EmbeddedIpHeader = 4,
    /// <summary>The quoted TCP/UDP/ICMP checksum when the quote holds it (UDP only when non-zero; TCP only when the
    /// quote reaches its bytes 16-17) (ICMP errors).</summary>
    EmbeddedTransport = 8,
}

public static class Checksums
{
    public static ChecksumFix ToFix(in Verdict v, in Packet packet)
    {
        if (v.Kind != VerdictKind.Translate) return ChecksumFix.None;
        if (v.Related) return ChecksumFix.IpHeader | ChecksumFix.Transport | ChecksumFix.EmbeddedIpHeader | ChecksumFix.EmbeddedTransport;
        var fix = v.Rewritten.Src != packet.Tuple.Src || v.Rewritten.Dst != packet.Tuple.Dst ? ChecksumFix.IpHeader : ChecksumFix.None;
        bool l4 = packet.Tuple.Proto != Protocol.Icmp ? fix != 0 || v.Rewritten != packet.Tuple : v.Rewritten.IcmpId != packet.Tuple.IcmpId;
        return l4 ? fix | ChecksumFix.Transport : fix;
    }
}
