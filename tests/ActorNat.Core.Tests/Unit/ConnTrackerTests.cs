using ActorNat.Core.Conntrack;
using ActorNat.Core.Net;

namespace ActorNat.Core.Tests.Unit;

public class ConnTrackerTests
{
    private static readonly ConntrackTimeouts T = ConntrackTimeouts.Default;

    private static ConnState Syn(long now = 0)
    {
        Assert.Equal(PacketOutcome.Accepted, ConnTracker.Start(out var s, Protocol.Tcp, TcpFlags.Syn, 101, now, T));
        return s;
    }

    [Fact]
    public void A_handshake_goes_syn_sent_syn_recv_established_assured()
    {
        var s = Syn();
        Assert.Equal((TcpState.SynSent, 120_000L, false), (s.Tcp, s.ExpiresMs, s.Replied));
        ConnTracker.Update(ref s, Direction.Reply, TcpFlags.Syn | TcpFlags.Ack, 5001, 10, T);
        Assert.Equal((TcpState.SynRecv, 60_010L, true, false), (s.Tcp, s.ExpiresMs, s.Replied, s.Assured));
        ConnTracker.Update(ref s, Direction.Original, TcpFlags.Ack, 101, 20, T);
        Assert.Equal((TcpState.Established, 432_000_020L, true), (s.Tcp, s.ExpiresMs, s.Assured));
    }

    [Fact]
    public void A_retransmitted_syn_does_not_renew_syn_sent()
    {
        var s = Syn();
        Assert.Equal(PacketOutcome.Ignored, ConnTracker.Update(ref s, Direction.Original, TcpFlags.Syn, 101, 1000, T));
        Assert.Equal(120_000L, s.ExpiresMs);
    }

    [Fact]
    public void An_active_close_ends_in_time_wait_and_a_rst_in_close()
    {
        var s = Syn();
        ConnTracker.Update(ref s, Direction.Reply, TcpFlags.Syn | TcpFlags.Ack, 5001, 0, T);
        ConnTracker.Update(ref s, Direction.Original, TcpFlags.Ack, 101, 0, T);
        var rst = s;
        ConnTracker.Update(ref s, Direction.Original, TcpFlags.Fin | TcpFlags.Ack, 102, 0, T);
        Assert.Equal((TcpState.FinWait, 120_000L), (s.Tcp, s.ExpiresMs));
        ConnTracker.Update(ref s, Direction.Reply, TcpFlags.Fin | TcpFlags.Ack, 5002, 0, T);
        Assert.Equal((TcpState.LastAck, 30_000L), (s.Tcp, s.ExpiresMs));
        ConnTracker.Update(ref s, Direction.Original, TcpFlags.Ack, 102, 0, T);
        Assert.Equal((TcpState.TimeWait, 120_000L, true), (s.Tcp, s.ExpiresMs, s.Assured));
        // A new SYN on a cleanly closed connection reopens it.
        Assert.Equal(PacketOutcome.Reopen, ConnTracker.Update(ref s, Direction.Original, TcpFlags.Syn, 999, 0, T));

        ConnTracker.Update(ref rst, Direction.Original, TcpFlags.Rst | TcpFlags.Ack, 101, 0, T);
        Assert.Equal((TcpState.Close, 10_000L), (rst.Tcp, rst.ExpiresMs));
    }

    [Fact]
    public void A_rst_before_any_reply_kills_the_entry()
    {
        var s = Syn();
        Assert.Equal(PacketOutcome.Kill, ConnTracker.Update(ref s, Direction.Reply, TcpFlags.Rst | TcpFlags.Ack, 0, 5, T));
    }

    [Fact]
    public void Only_a_syn_or_an_ack_starts_a_tcp_connection()
    {
        Assert.Equal(PacketOutcome.Invalid, ConnTracker.Start(out _, Protocol.Tcp, TcpFlags.Fin | TcpFlags.Ack, 1, 0, T));
        Assert.Equal(PacketOutcome.Invalid, ConnTracker.Start(out _, Protocol.Tcp, TcpFlags.Syn | TcpFlags.Fin, 1, 0, T));
        Assert.Equal(PacketOutcome.Accepted, ConnTracker.Start(out var picked, Protocol.Tcp, TcpFlags.Ack, 1, 0, T));
        // Picked up mid-stream: ESTABLISHED, but only the unacknowledged timeout until answered.
        Assert.Equal((TcpState.Established, 300_000L), (picked.Tcp, picked.ExpiresMs));
    }

    [Fact]
    public void Udp_becomes_a_stream_only_when_answered_and_still_active_after_2_s()
    {
        ConnTracker.Start(out var s, Protocol.Udp, TcpFlags.None, 0, 0, T);
        Assert.Equal((30_000L, false), (s.ExpiresMs, s.Replied));
        ConnTracker.Update(ref s, Direction.Reply, TcpFlags.None, 0, 1, T);
        Assert.Equal((30_001L, true, false), (s.ExpiresMs, s.Replied, s.Assured));
        ConnTracker.Update(ref s, Direction.Original, TcpFlags.None, 0, 600, T);
        Assert.False(s.Assured);
        ConnTracker.Update(ref s, Direction.Original, TcpFlags.None, 0, 2300, T);
        Assert.Equal((2300 + 120_000L, true), (s.ExpiresMs, s.Assured));
    }

    [Fact]
    public void Icmp_is_never_assured()
    {
        ConnTracker.Start(out var s, Protocol.Icmp, TcpFlags.None, 0, 0, T);
        ConnTracker.Update(ref s, Direction.Reply, TcpFlags.None, 0, 1, T);
        ConnTracker.Update(ref s, Direction.Original, TcpFlags.None, 0, 5000, T);
        Assert.Equal((true, false, 35_000L), (s.Replied, s.Assured, s.ExpiresMs));
    }

    [Fact]
    public void Timeouts_follow_their_sysctls()
    {
        var t = T.With("net.netfilter.nf_conntrack_udp_timeout", 10).With("nf_conntrack_tcp_timeout_established", 3600);
        Assert.Equal((10, 3600), (t.Udp, t.TcpEstablished));
        Assert.Equal("nf_conntrack_bogus", Assert.Throws<ParseException>(() => t.With("nf_conntrack_bogus", 1)).Token);
    }
}
