using ActorNat.Cluster.Messages;
using ActorNat.Cluster.Pool;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using Xunit;
using CoreState = ActorNat.Core.Conntrack.ConnState;
using CoreRange = ActorNat.Core.Nat.NatRange;

namespace ActorNat.Cluster.Tests;

/// <summary>The pool's decisions and events without an actor system: Core's allocator over the pool's held tuples.</summary>
public class PoolStateTests
{
    private static readonly IPv4 Nat = IPv4.Parse("10.0.2.15");
    private static readonly CoreRange Masquerade = new(Nat, Nat, null, false, false);
    private static readonly List<SourceMapping> NoCandidates = [];

    private static FiveTuple Udp(string src, ushort sport, string dst, ushort dport) =>
        new(Protocol.Udp, IPv4.Parse(src), IPv4.Parse(dst), sport, dport);

    private static CoreState Started(Protocol proto, long now, TcpFlags flags = TcpFlags.None, uint seqEnd = 0)
    {
        ConnTracker.Start(out var s, proto, flags, seqEnd, now, ConntrackTimeouts.Default);
        return s;
    }

    /// <summary>Allocates and applies the reservation, as the actor does before journaling it.</summary>
    private static (Allocation A, Reserved R) Reserve(PoolState pool, FiveTuple original, long now, CoreState? state = null,
        List<(ConntrackEntry, DestroyReason)>? released = null, bool syn = false, uint synSeqEnd = 0, ulong id = 0)
    {
        released ??= [];
        var a = pool.Allocate(0, original, Masquerade, syn, synSeqEnd, NoCandidates, new SeededRandom(1), now, released);
        Assert.True(a.Succeeded);
        var s = state ?? Started(original.Proto, now);
        if (a.Ip != original.Src || a.Port != original.Key) s.Status |= ConnStatus.SrcNat;
        var r = new Reserved
        {
            Original = original.ToMsg(), Reply = PortAllocator.ReplyFor(original, a.Ip, a.Port).ToMsg(), State = s.ToMsg(),
            ConntrackId = id == 0 ? (ulong)Random.Shared.NextInt64(1, long.MaxValue) : id, MasqueradeInterface = "eth0",
        };
        pool.Apply(r);
        return (a, r);
    }

    private static PoolState Live()
    {
        var pool = new PoolState(Nat);
        pool.Recovered(0, ConntrackTimeouts.Default);
        return pool;
    }

    [Fact]
    public void KeepsTheSourcePortAndThenSearchesWhenTheReplyTupleIsTaken()
    {
        var pool = Live();
        var (first, _) = Reserve(pool, Udp("172.18.0.2", 40000, "192.0.2.1", 53), 1000);
        Assert.Equal(40000, first.Port);
        // Another client with the same source port towards the same server: the kept port's reply tuple is taken.
        var (second, _) = Reserve(pool, Udp("172.18.0.3", 40000, "192.0.2.1", 53), 1000);
        Assert.NotEqual(40000, second.Port);
        Assert.Equal(2, pool.Count);
    }

    [Fact]
    public void ARepeatedOriginalFindsItsEntryAndAReleaseFreesTheTuple()
    {
        var pool = Live();
        var original = Udp("172.18.0.2", 40000, "192.0.2.1", 53);
        var (_, r) = Reserve(pool, original, 1000);
        var expired = new List<(ConntrackEntry, DestroyReason)>();
        Assert.True(pool.TryHeldByOriginal(original, 2000, expired, out var held));
        Assert.Equal(r.ConntrackId, held.Id);
        pool.Apply(new Released { Reply = r.Reply });
        Assert.False(pool.TryHeldByOriginal(original, 2000, expired, out _));
        Assert.Equal(0, pool.Count);
        Assert.Equal(40000, Reserve(pool, Udp("172.18.0.3", 40000, "192.0.2.1", 53), 3000).A.Port);
    }

    [Fact]
    public void AVerifiedCopyPastItsExpiryIsFreeAtOnceAndReportedAsExpired()
    {
        var pool = Live();
        var (_, r) = Reserve(pool, Udp("172.18.0.2", 40000, "192.0.2.1", 53), 1000);
        var expires = r.State.ToCore().ExpiresMs;
        var released = new List<(ConntrackEntry Entry, DestroyReason Reason)>();
        // Within the report slack the copy still holds the tuple.
        Assert.True(pool.HeldAndLive(r.Reply.ToCore(), expires, released));
        var late = expires + Conntrack.ConntrackEntity.ReportSlackMs + 1;
        var (again, _) = Reserve(pool, Udp("172.18.0.3", 40000, "192.0.2.1", 53), late, released: released);
        Assert.Equal(40000, again.Port);
        Assert.Equal(r.ConntrackId, Assert.Single(released).Entry.Id);
        Assert.Equal(DestroyReason.Expired, released[0].Reason);
    }

    [Fact]
    public void ARecoveredCopyIsNeverTakenForExpiredAndGetsAFullTimeout()
    {
        var pool = new PoolState(Nat);
        var original = Udp("172.18.0.2", 40000, "192.0.2.1", 53);
        var state = Started(Protocol.Udp, 1000);
        pool.Apply(new Reserved { Original = original.ToMsg(), Reply = original.Invert().ToMsg(), State = state.ToMsg(), ConntrackId = 7 });
        Assert.True(pool.Recovering);
        long now = 1_000_000;
        pool.Recovered(now, ConntrackTimeouts.Default);
        Assert.True(pool.TryGet(original.Invert(), out var h));
        Assert.False(h.Verified);
        Assert.Equal(now + ConntrackTimeouts.Default.For(state) * 1000L, h.Entry.State.ExpiresMs);
        Assert.True(pool.HeldAndLive(original.Invert(), long.MaxValue / 2, []));
    }

    [Fact]
    public void ASynWhoseSequenceHasNotAdvancedLeavesTheTimeWaitHolder()
    {
        var pool = Live();
        var server = "192.0.2.1";
        var old = new FiveTuple(Protocol.Tcp, IPv4.Parse("172.18.0.2"), IPv4.Parse(server), 40000, 80);
        var timeWait = Started(Protocol.Tcp, 1000, TcpFlags.Syn, 5000);
        timeWait.Tcp = TcpState.TimeWait;
        timeWait.OrigSeqEnd = 5000;
        timeWait.ExpiresMs = 1_000_000;
        timeWait.Status |= ConnStatus.SrcNat;
        var (_, r) = Reserve(pool, old, 1000, timeWait, syn: true, synSeqEnd: 5000);
        Assert.Equal(TcpState.TimeWait, r.State.ToCore().Tcp);
        // The same client port again, with a SYN whose sequence has not advanced: the old tuple stays, another port.
        var again = new FiveTuple(Protocol.Tcp, IPv4.Parse("172.18.0.3"), IPv4.Parse(server), 40000, 80);
        var released = new List<(ConntrackEntry Entry, DestroyReason Reason)>();
        var stale = pool.Allocate(0, again, Masquerade, true, 4000, NoCandidates, new SeededRandom(1), 2000, released);
        Assert.True(stale.Succeeded);
        Assert.Empty(released);
        Assert.NotEqual(40000, stale.Port);
        Assert.True(pool.TryGet(r.Reply.ToCore(), out _));
        // Core's rule, the one the in-process table applies too.
        Assert.True(NatRules.MayEvictForSyn(timeWait, 6000));
        Assert.False(NatRules.MayEvictForSyn(timeWait, 5000));
    }

    [Fact]
    public void RefreshJournalsStateChangesAndLargeMovesOnly()
    {
        var pool = Live();
        var (_, r) = Reserve(pool, Udp("172.18.0.2", 40000, "192.0.2.1", 53), 1000, id: 9);
        var state = r.State.ToCore();
        var small = state;
        small.ExpiresMs += 1000;
        Assert.Equal(PoolState.RefreshOutcome.Volatile, pool.Refresh(Update(r, small, 9), 2000));
        var replied = small;
        replied.Status |= ConnStatus.SeenReply;
        Assert.Equal(PoolState.RefreshOutcome.Journal, pool.Refresh(Update(r, replied, 9), 2000));
        pool.Apply(Update(r, replied, 9));
        Assert.True(pool.TryGet(r.Reply.ToCore(), out var h));
        Assert.Equal(replied.Status, h.Journaled.Status);
        Assert.Equal(PoolState.RefreshOutcome.NotHeld, pool.Refresh(Update(r, replied, 10), 2000)); // an earlier connection's
    }

    private static HolderUpdate Update(Reserved r, CoreState s, ulong id) =>
        new() { Pool = "17/10.0.2.15/0", Reply = r.Reply, State = s.ToMsg(), ConntrackId = id };

    [Fact]
    public void DueHoldersAreAskedAgainAfterTheRetryTime()
    {
        var pool = Live();
        var (_, r) = Reserve(pool, Udp("172.18.0.2", 40000, "192.0.2.1", 53), 1000);
        var at = r.State.ToCore().ExpiresMs;
        Assert.Empty(pool.Due(at - 1, 5000));
        Assert.Equal(r.ConntrackId, Assert.Single(pool.Due(at, 5000)).Id);
        Assert.Empty(pool.Due(at + 4999, 5000));
        Assert.Single(pool.Due(at + 5000, 5000));
    }

    [Fact]
    public void TheMasqueradeNotifierReleasesOnlyWhatWentThroughTheDevice()
    {
        var pool = Live();
        Reserve(pool, Udp("172.18.0.2", 40000, "192.0.2.1", 53), 1000);
        pool.Apply(new Reserved
        {
            Original = Udp("172.18.0.9", 1, "192.0.2.1", 53).ToMsg(), Reply = Udp("192.0.2.1", 53, "10.0.2.15", 1).ToMsg(),
            State = Started(Protocol.Udp, 1000).ToMsg(), ConntrackId = 5, MasqueradeInterface = "",
        });
        Assert.Empty(pool.ReleaseMasqueraded("eth1", null));
        Assert.Empty(pool.ReleaseMasqueraded("eth0", IPv4.Parse("10.0.2.16")));
        Assert.Single(pool.ReleaseMasqueraded("eth0", Nat));
        Assert.Equal(1, pool.Count); // the SNAT entry stays
    }

    [Fact]
    public void BySourceTakesTheNewestMappingInRange()
    {
        var candidates = new List<SourceMapping>
        {
            new() { Ip = IPv4.Parse("10.0.2.16").Value, Port = 1000, ConntrackId = 1 },
            new() { Ip = Nat.Value, Port = 2000, ConntrackId = 2 },
            new() { Ip = Nat.Value, Port = 3000, ConntrackId = 3 },
        };
        Assert.True(BySource.TryFind(candidates, Masquerade, out var ip, out var port));
        Assert.Equal(Nat, ip);
        Assert.Equal(2000, port);
    }

    [Fact]
    public void ASnapshotRestoresTheSameHolders()
    {
        var pool = Live();
        Reserve(pool, Udp("172.18.0.2", 40000, "192.0.2.1", 53), 1000);
        Reserve(pool, Udp("172.18.0.3", 40000, "192.0.2.1", 53), 1000);
        var copy = new PoolState(Nat);
        copy.Apply(EntryList.Parser.ParseFrom(Google.Protobuf.MessageExtensions.ToByteArray(pool.Snapshot(2000, "n1"))));
        copy.Recovered(2000, ConntrackTimeouts.Default);
        Assert.Equal(pool.Holders.Select(h => h.Entry.Reply.ToString()).Order(), copy.Holders.Select(h => h.Entry.Reply.ToString()).Order());
    }
}
