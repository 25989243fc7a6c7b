using ActorNat.Core.Conntrack;
using ActorNat.Core.Net;

namespace ActorNat.Core.Tests.Unit;

/// <summary>
/// The rule the cluster's flow cache answers by (<see cref="ConnTracker.IsPureRefresh"/>), checked against
/// <see cref="ConnTracker.Update"/> over every TCP state, status, last packet, direction and flag combination.
/// </summary>
public class PureRefreshTests
{
    private static readonly ConntrackTimeouts T = ConntrackTimeouts.Default;

    private static IEnumerable<ConnState> AllStates()
    {
        foreach (var proto in new[] { Protocol.Tcp, Protocol.Udp, Protocol.Icmp, (Protocol)47 })
            for (int tcp = 0; tcp <= (proto == Protocol.Tcp ? 9 : 0); tcp++)
                for (int status = 0; status < 16; status++)
                    for (int last = 0; last <= 5; last++)
                        for (int dir = 0; dir <= 1; dir++)
                            yield return new ConnState
                            {
                                Proto = proto, Tcp = (TcpState)tcp, Status = (ConnStatus)status, LastIndex = (TcpStateTable.Index)last,
                                LastDir = (Direction)dir, OrigSeqEnd = 1000, CreatedMs = 0, ExpiresMs = 50_000,
                            };
    }

    [Fact]
    public void A_pure_refresh_changes_only_the_expiry_and_the_last_packet_note_and_keeps_the_entry_steady()
    {
        int pure = 0;
        foreach (var s in AllStates())
            foreach (var dir in new[] { Direction.Original, Direction.Reply })
                for (int f = 0; f < 64; f++)
                {
                    var flags = (TcpFlags)f;
                    if (!ConnTracker.IsPureRefresh(s, flags)) continue;
                    pure++;
                    var after = s;
                    Assert.Equal(PacketOutcome.Accepted, ConnTracker.Update(ref after, dir, flags, 2000, 10_000, T));
                    Assert.Equal((s.Proto, s.Tcp, s.Status, s.CreatedMs), (after.Proto, after.Tcp, after.Status, after.CreatedMs));
                    Assert.True(after.ExpiresMs > 10_000);
                    Assert.True(ConnTracker.IsSteady(after));
                    // The same packet later renews to the same timeout: the copy's expiry only depends on its last packet.
                    var later = after;
                    ConnTracker.Update(ref later, dir, flags, 2000, 11_000, T);
                    Assert.Equal(after.ExpiresMs + 1000, later.ExpiresMs);
                }
        // TCP: ESTABLISHED with SEEN_REPLY|ASSURED (4 of 16 status values) × 6 last kinds × 2 last dirs × 2 dirs × the
        // ACK combinations (ACK with any of PSH, URG); UDP: the 4 status values with both flags × 12 × 2 × 64.
        Assert.Equal(4 * 12 * 2 * 4 + 4 * 12 * 2 * 64, pure);
    }

    [Fact]
    public void Syn_fin_rst_and_unanswered_or_young_entries_are_never_pure_refreshes()
    {
        var es = new ConnState { Proto = Protocol.Tcp, Tcp = TcpState.Established, Status = ConnStatus.SeenReply | ConnStatus.Assured };
        Assert.True(ConnTracker.IsPureRefresh(es, TcpFlags.Ack | TcpFlags.Psh));
        foreach (var f in new[] { TcpFlags.Syn, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Rst | TcpFlags.Ack, TcpFlags.Syn | TcpFlags.Ack, TcpFlags.None, TcpFlags.Fin })
            Assert.False(ConnTracker.IsPureRefresh(es, f));
        Assert.False(ConnTracker.IsPureRefresh(es with { Status = ConnStatus.SeenReply }, TcpFlags.Ack)); // not yet ASSURED: the next ACK assures it
        Assert.False(ConnTracker.IsPureRefresh(es with { Tcp = TcpState.FinWait }, TcpFlags.Ack));
        var udp = new ConnState { Proto = Protocol.Udp, Status = ConnStatus.SeenReply };
        Assert.False(ConnTracker.IsPureRefresh(udp, TcpFlags.None)); // answered but not a stream yet
        Assert.True(ConnTracker.IsPureRefresh(udp with { Status = ConnStatus.SeenReply | ConnStatus.Assured }, TcpFlags.None));
        Assert.False(ConnTracker.IsPureRefresh(new ConnState { Proto = Protocol.Icmp, Status = ConnStatus.SeenReply | ConnStatus.Assured }, TcpFlags.None));
    }

    [Fact]
    public void Merging_a_copys_refreshes_gives_the_state_the_owner_would_have_had()
    {
        var rnd = new Random(11);
        foreach (var s in AllStates())
        {
            if (!ConnTracker.IsSteady(s)) continue;
            // Packets split between the owner and two copies, in time order; the owner merges the copies afterwards.
            ConnState direct = s, owner = s, a = s, b = s;
            long now = 1000;
            uint seq = 1000;
            for (int k = 0; k < 20; k++)
            {
                now += rnd.Next(1, 5000);
                var dir = (Direction)rnd.Next(2);
                var flags = s.Proto == Protocol.Tcp ? TcpFlags.Ack | (rnd.Next(2) == 0 ? TcpFlags.Psh : 0) : TcpFlags.None;
                seq += (uint)rnd.Next(-100, 3000); // retransmissions go back
                ConnTracker.Update(ref direct, dir, flags, seq, now, T);
                switch (rnd.Next(3))
                {
                    case 0: ConnTracker.Update(ref owner, dir, flags, seq, now, T); break;
                    case 1: ConnTracker.Update(ref a, dir, flags, seq, now, T); break;
                    default: ConnTracker.Update(ref b, dir, flags, seq, now, T); break;
                }
            }
            ConnTracker.MergeRefresh(ref owner, b);
            ConnTracker.MergeRefresh(ref owner, a);
            Assert.Equal((direct.Tcp, direct.Status, direct.ExpiresMs, direct.OrigSeqEnd), (owner.Tcp, owner.Status, owner.ExpiresMs, owner.OrigSeqEnd));
            if (direct.ExpiresMs != s.ExpiresMs) Assert.Equal((direct.LastIndex, direct.LastDir), (owner.LastIndex, owner.LastDir));
        }
    }
}
