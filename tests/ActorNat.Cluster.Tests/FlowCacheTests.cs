using Akka.Actor;
using ActorNat.Cluster.Ingress;
using ActorNat.Cluster.Messages;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using CorePacket = ActorNat.Core.Engine.Packet;
using CoreState = ActorNat.Core.Conntrack.ConnState;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// The per-node flow cache without an actor system: it answers only steady packets of a live lease, exactly as the
/// entity would (checked against Core's <see cref="ConnTracker"/> on the owner's state through random packet
/// sequences with revocations), hands back its refreshes, and never answers after a revocation, a deletion, the end of
/// its term or its owner's node's loss.
/// </summary>
public class FlowCacheTests
{
    private static readonly ConntrackTimeouts T = ConntrackTimeouts.Default;
    private static readonly IPv4 Client = IPv4.Parse("172.18.0.2"), Server = IPv4.Parse("192.0.2.200"), Nat = IPv4.Parse("10.0.2.15");
    private static readonly FiveTuple Original = new(Protocol.Tcp, Client, Server, 40000, 80);
    private static readonly FiveTuple Reply = new(Protocol.Tcp, Server, Nat, 80, 61000);

    /// <summary>An actor ref that only has a path (the owner of a lease, on some node).</summary>
    private sealed class PathRef(string host) : MinimalActorRef
    {
        public override ActorPath Path { get; } = new RootActorPath(new Address("akka.tcp", "nat", host, 4053)) / "system" / "sharding" / "conntrack" / "1" / "e";
        public override IActorRefProvider Provider => null!;
    }

    private static readonly IActorRef Owner = new PathRef("127.0.0.1");

    private static CoreState Established(long now = 0)
    {
        ConnTracker.Start(out var s, Protocol.Tcp, TcpFlags.Syn, 101, now, T);
        ConnTracker.Update(ref s, Direction.Reply, TcpFlags.Syn | TcpFlags.Ack, 5001, now, T);
        ConnTracker.Update(ref s, Direction.Original, TcpFlags.Ack, 101, now, T);
        ConnTracker.Update(ref s, Direction.Reply, TcpFlags.Ack, 5001, now, T);
        Assert.True(ConnTracker.IsSteady(s));
        return s;
    }

    private static Lease Grant(in CoreState s, ulong epoch = 7, ulong id = 42) =>
        new() { Original = Original.ToMsg(), Reply = Reply.ToMsg(), State = s.ToMsg(), ConntrackId = id, Epoch = epoch };

    private static CorePacket Ack(Direction dir, uint seq = 200) => new(dir == Direction.Original ? Original : Reply, TcpFlags.Ack, seq, 100);

    [Fact]
    public void Steady_packets_are_answered_in_both_directions_as_the_entity_would_and_their_refreshes_handed_on()
    {
        var cache = new FlowCache();
        Assert.True(cache.Install(Grant(Established()), Owner, askedAtMs: 0, cache.Generation));
        Assert.True(cache.TryAnswer(Ack(Direction.Original), 100, T, out var v));
        Assert.Equal((VerdictKind.Translate, Direction.Original, 42UL, false), (v.Kind, v.Direction, v.ConntrackId, v.Created));
        Assert.Equal(Original.WithSource(Nat, 61000), v.Rewritten);
        Assert.True(cache.TryAnswer(Ack(Direction.Reply), 400, T, out v));
        Assert.Equal((Direction.Reply, Reply.WithDestination(Client, 40000)), (v.Direction, v.Rewritten));

        // Not beyond what the entity confirmed plus the window: that packet goes to the entity.
        Assert.False(cache.TryAnswer(Ack(Direction.Reply), 501, T, out _));

        var refreshes = cache.TakeRefreshes(450);
        var (lease, state) = Assert.Single(refreshes);
        Assert.Equal((42UL, 7UL), (lease.Id, lease.Epoch));
        Assert.Equal(400 + T.ForTcp(TcpState.Established) * 1000L, state.ExpiresMs);
        Assert.Equal(300u, state.OrigSeqEnd); // the original direction's ACK moved td_end
        Assert.Empty(cache.TakeRefreshes(460)); // nothing new since
        // The entity's answer confirms the expiry: the window moves on with it.
        cache.Renewed(new LeaseRenewed { Original = Original.ToMsg(), ConntrackId = 42, Epoch = 7, ExpiresMs = state.ExpiresMs });
        Assert.True(cache.TryAnswer(Ack(Direction.Reply), 900, T, out _));
    }

    [Fact]
    public void Packets_that_may_change_the_entry_and_entries_not_steady_are_left_to_the_entity()
    {
        var cache = new FlowCache();
        var s = Established();
        var young = s;
        young.Status &= ~ConnStatus.Assured;
        Assert.False(cache.Install(Grant(young), Owner, 0, cache.Generation));
        Assert.True(cache.Install(Grant(s), Owner, 0, cache.Generation));
        foreach (var flags in new[] { TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Syn, TcpFlags.Syn | TcpFlags.Ack, TcpFlags.None })
            Assert.False(cache.TryAnswer(new CorePacket(Original, flags, 1, 0), 10, T, out _));
        Assert.False(cache.TryAnswer(new CorePacket(Original.Invert(), TcpFlags.Ack), 10, T, out _)); // the inverse of a translated original is another connection
        Assert.False(cache.TryAnswer(new CorePacket(Original, TcpFlags.Ack) { Embedded = Reply }, 10, T, out _));
        Assert.Empty(cache.TakeRefreshes(20));
    }

    [Fact]
    public void A_copy_answers_only_within_its_term_and_its_entrys_lifetime()
    {
        var cache = new FlowCache(termMs: 2000);
        var s = Established(now: 1800);
        Assert.True(cache.Install(Grant(s), Owner, askedAtMs: 0, cache.Generation));
        Assert.True(cache.TryAnswer(Ack(Direction.Original), 1999, T, out _));
        Assert.False(cache.TryAnswer(Ack(Direction.Original), 2000, T, out _)); // the term ran out: the entity answers
        // The entity's answer to the refresh sent at 1999 renews the term from then.
        var (lease, copy) = Assert.Single(cache.TakeRefreshes(1999));
        cache.Renewed(new LeaseRenewed { Original = Original.ToMsg(), ConntrackId = lease.Id, Epoch = lease.Epoch, ExpiresMs = copy.ExpiresMs + 1500 });
        Assert.True(cache.TryAnswer(Ack(Direction.Original), 3998, T, out _));
        // An ended renewal (another round) drops the copy.
        cache.TakeRefreshes(4000);
        cache.Renewed(new LeaseRenewed { Original = Original.ToMsg(), ConntrackId = lease.Id, Epoch = lease.Epoch, Ended = true });
        Assert.False(cache.TryAnswer(Ack(Direction.Original), 4001, T, out _));
        Assert.Equal(0, cache.Count);

        // An entry whose time ran out (UDP: 120 s as a stream) is never answered from a copy.
        var udp = new FlowCache(termMs: 1_000_000);
        var stream = new CoreState { Proto = Protocol.Udp, Status = ConnStatus.SeenReply | ConnStatus.Assured, ExpiresMs = 5000 + T.UdpStream * 1000L };
        var o = new FiveTuple(Protocol.Udp, Client, Server, 5000, 53);
        var r = new FiveTuple(Protocol.Udp, Server, Nat, 53, 5000);
        Assert.True(udp.Install(new Lease { Original = o.ToMsg(), Reply = r.ToMsg(), State = stream.ToMsg(), ConntrackId = 1, Epoch = 1 }, Owner, 0, udp.Generation));
        Assert.True(udp.TryAnswer(new CorePacket(r), 5000, T, out var v));
        Assert.Equal(VerdictKind.Translate, v.Kind);
        Assert.False(udp.TryAnswer(new CorePacket(o), 5000 + T.UdpStream * 1000L, T, out _));
    }

    [Fact]
    public void A_revocation_hands_back_the_refreshes_and_a_grant_of_the_revoked_round_arriving_late_is_refused()
    {
        var cache = new FlowCache();
        var s = Established();
        // The revocation reaches this node before the grant it revokes (the verdict carrying it was still on its way).
        Assert.Null(cache.Revoke(Original, 42, 7, nowMs: 10));
        s = Established(now: 30);
        Assert.False(cache.Install(Grant(s, epoch: 7), Owner, 5, cache.Generation));
        Assert.False(cache.TryAnswer(Ack(Direction.Original), 20, T, out _));
        // The next round's grant is taken; its refreshes come back with its revocation, and then nothing is answered.
        Assert.True(cache.Install(Grant(s, epoch: 8), Owner, 30, cache.Generation));
        Assert.True(cache.TryAnswer(Ack(Direction.Reply), 40, T, out _));
        var back = cache.Revoke(Original, 42, 8, nowMs: 50);
        Assert.NotNull(back);
        Assert.Equal(40 + T.ForTcp(TcpState.Established) * 1000L, back.Value.ExpiresMs);
        Assert.Equal(Direction.Reply, back.Value.LastDir);
        Assert.False(cache.TryAnswer(Ack(Direction.Reply), 60, T, out _));
        Assert.Empty(cache.TakeRefreshes(70));
    }

    [Fact]
    public void A_deletion_drops_every_copy_and_grants_asked_for_before_it()
    {
        var cache = new FlowCache();
        long before = cache.Generation;
        Assert.True(cache.Install(Grant(Established()), Owner, 0, before));
        Assert.Equal(1, cache.DropAll());
        Assert.False(cache.TryAnswer(Ack(Direction.Original), 1, T, out _));
        Assert.False(cache.Install(Grant(Established()), Owner, 0, before)); // asked before the deletion
        Assert.True(cache.Install(Grant(Established()), Owner, 2, cache.Generation));
    }

    [Fact]
    public void The_copies_of_an_unreachable_nodes_entities_go_and_none_is_taken_until_it_is_back()
    {
        var cache = new FlowCache();
        var remote = new PathRef("10.9.9.9");
        // (the grants' expiry is from time 0: every packet below is within the window)
        Assert.True(cache.Install(Grant(Established()), remote, 0, cache.Generation));
        cache.Reachable(remote.Path.Address, false);
        Assert.False(cache.TryAnswer(Ack(Direction.Original), 1, T, out _));
        Assert.False(cache.Install(Grant(Established()), remote, 2, cache.Generation));
        cache.Reachable(remote.Path.Address, true);
        Assert.True(cache.Install(Grant(Established()), remote, 3, cache.Generation));
        Assert.True(cache.TryAnswer(Ack(Direction.Original), 4, T, out _));
    }

    /// <summary>
    /// The lease protocol against Core alone: random packets in both directions, each answered by the cache when it can
    /// and otherwise by the owner after revoking (merging the copy back) and re-granting when steady. Every verdict
    /// and the owner's final state equal what one ConnTracker seeing every packet in order gives.
    /// </summary>
    [Fact]
    public void Cached_and_owner_answers_together_equal_one_conntrack_seeing_every_packet()
    {
        var rnd = new Random(1101);
        var kinds = new[] { TcpFlags.Ack, TcpFlags.Ack | TcpFlags.Psh, TcpFlags.Ack, TcpFlags.Ack, TcpFlags.Ack, TcpFlags.Ack | TcpFlags.Psh,
            TcpFlags.Ack, TcpFlags.Ack, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Syn, TcpFlags.Syn | TcpFlags.Ack };
        int hits = 0, owned = 0;
        for (int run = 0; run < 200; run++)
        {
            var cache = new FlowCache(termMs: 1_000_000);
            var truth = Established();
            var owner = truth;
            ulong epoch = 1;
            bool leased = cache.Install(Grant(owner, epoch), Owner, 0, cache.Generation);
            long now = 0;
            uint seq = 1000;
            for (int k = 0; k < 40; k++)
            {
                now += rnd.Next(1, 400);
                if (leased && rnd.Next(3) == 0)
                {
                    // A flush: the owner merges the copy's refreshes and confirms its expiry.
                    foreach (var (_, copy) in cache.TakeRefreshes(now)) ConnTracker.MergeRefresh(ref owner, copy);
                    cache.Renewed(new LeaseRenewed { Original = Original.ToMsg(), ConntrackId = 42, Epoch = epoch, ExpiresMs = owner.ExpiresMs });
                }
                seq += (uint)rnd.Next(0, 1500);
                var dir = (Direction)rnd.Next(2);
                var flags = kinds[rnd.Next(kinds.Length)];
                var packet = new CorePacket(dir == Direction.Original ? Original : Reply, flags, seq, 10);
                var expected = truth;
                var outcome = ConnTracker.Update(ref expected, dir, flags, packet.SeqEnd, now, T);
                if (cache.TryAnswer(packet, now, T, out var v))
                {
                    Assert.Equal(PacketOutcome.Accepted, outcome);
                    Assert.Equal(dir == Direction.Original ? Original.WithSource(Nat, 61000) : Reply.WithDestination(Client, 40000), v.Rewritten);
                    truth = expected;
                    hits++;
                    continue;
                }
                // The owner: take the copy back (merging its refreshes), then decide as Core does.
                owned++;
                if (leased && cache.Revoke(Original, 42, epoch, now) is { } back) ConnTracker.MergeRefresh(ref owner, back);
                leased = false;
                epoch++;
                Assert.Equal((truth.Tcp, truth.Status, truth.ExpiresMs, truth.OrigSeqEnd), (owner.Tcp, owner.Status, owner.ExpiresMs, owner.OrigSeqEnd));
                var ownerOutcome = ConnTracker.Update(ref owner, dir, flags, packet.SeqEnd, now, T);
                Assert.Equal(outcome, ownerOutcome);
                if (outcome is PacketOutcome.Kill or PacketOutcome.Reopen) break; // the entry is gone
                if (outcome == PacketOutcome.Invalid) owner = truth; else truth = expected;
                if (ConnTracker.IsSteady(owner)) leased = cache.Install(Grant(owner, epoch), Owner, now, cache.Generation);
            }
            if (leased && cache.Revoke(Original, 42, epoch, now) is { } last) ConnTracker.MergeRefresh(ref owner, last);
            if (truth.Tcp == owner.Tcp)
                Assert.Equal((truth.Tcp, truth.Status, truth.ExpiresMs, truth.OrigSeqEnd), (owner.Tcp, owner.Status, owner.ExpiresMs, owner.OrigSeqEnd));
        }
        Assert.True(hits > 500 && owned > 500, $"{hits} cached, {owned} by the owner: both paths must be exercised");
    }
}
