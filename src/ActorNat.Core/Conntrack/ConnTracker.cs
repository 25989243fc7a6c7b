using ActorNat.Core.Net;

namespace ActorNat.Core.Conntrack;

public enum PacketOutcome : byte
{
    /// <summary>Tracked; the entry was updated.</summary>
    Accepted,
    /// <summary>Accepted without changing the entry (sIG, a retransmitted SYN).</summary>
    Ignored,
    /// <summary>Invalid in the entry's state (sIV) or an invalid flag combination.</summary>
    Invalid,
    /// <summary>The entry must be destroyed (a RST before any reply).</summary>
    Kill,
    /// <summary>A SYN on a closed connection: destroy the entry and track the packet as a new connection.</summary>
    Reopen,
}

/// <summary>
/// The kernel's per-protocol packet handlers (tcp_packet, udp_packet, icmp_packet) over <see cref="ConnState"/>:
/// state transitions, timeouts, [UNREPLIED] and [ASSURED]. Pure: the same state, packet and time give the same result.
/// </summary>
public static partial class ConnTracker
{
    /// <summary>Creates the state of a new connection from its first packet, or answers Invalid (no entry then).</summary>
    public static PacketOutcome Start(out ConnState state, in FiveTuple tuple, TcpFlags flags, uint seqEnd, long nowMs, ConntrackTimeouts timeouts)
    {
        // icmp_packet's valid_new[]: only a request type opens a connection (a reply, or a type that cannot be inverted,
        // with no connection is not tracked).
        if (tuple.Proto == Protocol.Icmp && !Icmp.OpensConnection(tuple.IcmpType))
        {
            state = new ConnState { Proto = tuple.Proto, CreatedMs = nowMs, Tcp = TcpState.None };
            return PacketOutcome.Invalid;
        }
        return Start(out state, tuple.Proto, flags, seqEnd, nowMs, timeouts);
    }

    /// <summary>The protocol's part of <see cref="Start(out ConnState, in FiveTuple, TcpFlags, uint, long, ConntrackTimeouts)"/>.</summary>
    public static PacketOutcome Start(out ConnState state, Protocol proto, TcpFlags flags, uint seqEnd, long nowMs, ConntrackTimeouts timeouts)
    {
        state = new ConnState { Proto = proto, CreatedMs = nowMs, Tcp = TcpState.None };
        if (proto == Protocol.Tcp)
        {
            if (!TcpStateTable.ValidFlags(flags)) return PacketOutcome.Invalid;
            // tcp_new: only a SYN (or, with nf_conntrack_tcp_loose, an ACK picking up a connection) starts one.
            var first = TcpStateTable.Next(Direction.Original, TcpStateTable.IndexOf(flags), TcpState.None);
            if (first is TcpState.Invalid or TcpState.Ignore) return PacketOutcome.Invalid;
        }
        return Update(ref state, Direction.Original, flags, seqEnd, nowMs, timeouts);
    }

    public static PacketOutcome Update(ref ConnState state, Direction dir, TcpFlags flags, uint seqEnd, long nowMs, ConntrackTimeouts timeouts)
    {
        var outcome = state.Proto switch
        {
            Protocol.Tcp => Tcp(ref state, dir, flags, seqEnd, nowMs, timeouts),
            Protocol.Udp => Udp(ref state, nowMs, timeouts),
            Protocol.Icmp => Refresh(ref state, nowMs, timeouts.Icmp),
            _ => Refresh(ref state, nowMs, timeouts.Generic),
        };
        // nf_conntrack_in sets SEEN_REPLY after the protocol handler ran.
        if (dir == Direction.Reply && outcome is PacketOutcome.Accepted or PacketOutcome.Ignored)
            state.Status |= ConnStatus.SeenReply;
        return outcome;
    }

    private static PacketOutcome Refresh(ref ConnState state, long nowMs, int seconds)
    {
        state.ExpiresMs = nowMs + seconds * 1000L;
        return PacketOutcome.Accepted;
    }

    /// <summary>udp_packet: 30 s; once replied, a packet more than 2 s after creation makes it a stream: 120 s and ASSURED.</summary>
    private static PacketOutcome Udp(ref ConnState state, long nowMs, ConntrackTimeouts t)
    {
        if (!state.Replied) return Refresh(ref state, nowMs, t.Udp);
        if (nowMs > state.CreatedMs + 2000)
        {
            state.Status |= ConnStatus.Assured;
            return Refresh(ref state, nowMs, t.UdpStream);
        }
        return Refresh(ref state, nowMs, t.Udp);
    }

    private static PacketOutcome Tcp(ref ConnState state, Direction dir, TcpFlags flags, uint seqEnd, long nowMs, ConntrackTimeouts t)
    {
        if (!TcpStateTable.ValidFlags(flags)) return PacketOutcome.Invalid;
        var old = state.Tcp;
        var index = TcpStateTable.IndexOf(flags);
        var next = TcpStateTable.Next(dir, index, old);

        if (next == TcpState.SynSent && old >= TcpState.TimeWait && old != TcpState.SynSent2)
        {
            // A SYN on a closed connection: reopen when the close was clean (FIN seen) or a RST came the same way.
            if ((state.Status & ConnStatus.CloseInit) != 0 || (state.LastDir == dir && state.LastIndex == TcpStateTable.Index.Rst))
                return PacketOutcome.Reopen;
            next = TcpState.Ignore;
        }
        if (next == TcpState.Ignore)
        {
            state.LastIndex = index;
            state.LastDir = dir;
            return PacketOutcome.Ignored;
        }
        if (next == TcpState.Invalid) return PacketOutcome.Invalid;

        if (dir == Direction.Original && (flags & (TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Ack)) != 0
            && (old == TcpState.None || (int)(seqEnd - state.OrigSeqEnd) > 0))
            state.OrigSeqEnd = seqEnd;

        state.LastIndex = index;
        state.LastDir = dir;
        if (old != next && next == TcpState.FinWait) state.Status |= ConnStatus.CloseInit;
        state.Tcp = next;

        int timeout = index == TcpStateTable.Index.Rst ? t.TcpClose : t.ForTcp(next);
        if (!state.Replied)
        {
            // A RST before any reply: the connection never existed.
            if (index == TcpStateTable.Index.Rst) return PacketOutcome.Kill;
            // A retransmitted SYN does not renew the timeout (else a client could keep the mapping forever).
            if (index == TcpStateTable.Index.Syn && old == TcpState.SynSent) return PacketOutcome.Ignored;
            // A connection picked up mid-stream gets no long ESTABLISHED timeout before it is answered.
            if (next == TcpState.Established && timeout > t.TcpUnacknowledged) timeout = t.TcpUnacknowledged;
        }
        else if (!state.Assured && old is TcpState.SynRecv or TcpState.Established && next == TcpState.Established)
        {
            state.Status |= ConnStatus.Assured;
        }
        state.ExpiresMs = nowMs + timeout * 1000L;
        return PacketOutcome.Accepted;
    }
}
