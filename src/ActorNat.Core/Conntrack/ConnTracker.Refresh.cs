using ActorNat.Core.Net;

namespace ActorNat.Core.Conntrack;

/// <summary>
/// Which packets only refresh an entry: the rule a copy of the entry (the cluster's per-node flow cache) may answer
/// by itself, because the answer and every field a later packet depends on are the same as the owner's would be.
/// </summary>
public static partial class ConnTracker
{
    /// <summary>
    /// The entry is in a state whose packets of the kinds <see cref="IsPureRefresh"/> accepts change nothing but the
    /// expiry: a TCP connection ESTABLISHED and ASSURED (answered), or a UDP stream (ASSURED).
    /// </summary>
    public static bool IsSteady(in ConnState s) => s.Proto switch
    {
        Protocol.Tcp => s.Tcp == TcpState.Established && s.Assured && s.Replied,
        Protocol.Udp => s.Assured && s.Replied,
        _ => false,
    };

    /// <summary>
    /// This packet, in this state, leaves state, status and verdict as they are: <see cref="Update"/> only moves the
    /// expiry (now + the same timeout) and the kernel's note of the last packet (last_index, last_dir, td_end of the
    /// original direction). TCP: a bare ACK (PSH, URG, ECE, CWR aside) in ESTABLISHED after ASSURED stays ESTABLISHED
    /// in both directions (tcp_conntracks: sES + ack → sES). UDP: an ASSURED stream stays one, every packet renews the
    /// stream timeout. Anything else (SYN, FIN, RST, an unanswered or young entry, other protocols) may change the
    /// entry and goes to its owner.
    /// </summary>
    public static bool IsPureRefresh(in ConnState s, TcpFlags flags)
    {
        if (!IsSteady(s)) return false;
        if (s.Proto == Protocol.Udp) return true;
        return TcpStateTable.ValidFlags(flags) && TcpStateTable.IndexOf(flags) == TcpStateTable.Index.Ack;
    }

    /// <summary>
    /// Folds a copy's refreshes into the owner's state, both taken from the same state (nothing but pure refreshes in
    /// between): the later expiry with its last packet, and the furthest original sequence end (serial arithmetic, as
    /// td_end). The result is what the owner would hold had it seen the copy's packets itself, in time order.
    /// </summary>
    public static void MergeRefresh(ref ConnState owner, in ConnState copy)
    {
        if (copy.ExpiresMs > owner.ExpiresMs)
        {
            owner.ExpiresMs = copy.ExpiresMs;
            owner.LastIndex = copy.LastIndex;
            owner.LastDir = copy.LastDir;
        }
        if (owner.Proto == Protocol.Tcp && (int)(copy.OrigSeqEnd - owner.OrigSeqEnd) > 0) owner.OrigSeqEnd = copy.OrigSeqEnd;
    }
}
