using ActorNat.Core.Conntrack;
using ActorNat.Core.Net;

namespace ActorNat.Core.Nat;

/// <summary>
/// Netfilter rules that every backend applies to its own store of entries (the in-process table and the cluster's
/// pools): written once here, so the two cannot drift apart.
/// </summary>
public static class NatRules
{
    /// <summary>
    /// A SYN may take over the reply tuple of a SNATed TCP connection in TIME_WAIT or CLOSE when its sequence number
    /// has advanced past the old connection's (nf_nat_used_tuple_harder / nf_seq_has_advanced).
    /// </summary>
    public static bool MayEvictForSyn(in ConnState holder, uint synSeqEnd) =>
        holder.Proto == Protocol.Tcp && holder.Tcp is TcpState.TimeWait or TcpState.Close
        && (holder.Status & ConnStatus.SrcNat) != 0 && (int)(synSeqEnd - holder.OrigSeqEnd) > 0;

    /// <summary>
    /// The masquerade notifier: an entry masqueraded through <paramref name="device"/> goes when the device goes down
    /// (no address) or when the address it was masqueraded to is removed from it.
    /// </summary>
    public static bool MasqueradeGone(in ConntrackEntry e, string device, IPv4? removedAddress) =>
        e.MasqueradeInterface == device && (removedAddress is not { } ip || e.NatIp == ip);

    /// <summary>
    /// Bysource (find_appropriate_src): the newest live mapping of the client ip:port whose NAT address and port lie in
    /// the rule's range is the one to reuse.
    /// </summary>
    public static bool BySourceUsable(bool expired, in NatRange range, IPv4 natIp, ushort natPort) =>
        !expired && range.Contains(natIp, natPort);
}
