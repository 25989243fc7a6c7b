using System.Collections.Concurrent;
using Akka.Actor;
using ActorNat.Cluster.Messages;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using CorePacket = ActorNat.Core.Engine.Packet;
using CoreVerdict = ActorNat.Core.Engine.Verdict;
using CoreState = ActorNat.Core.Conntrack.ConnState;

namespace ActorNat.Cluster.Ingress;

/// <summary>
/// One node's copies of entries whose entities leased them to it (<see cref="Lease"/>): the ingress answers a
/// connection's steady packets (<see cref="ConnTracker.IsPureRefresh"/>) from here, with Core's own
/// <see cref="ConnTracker.Update"/> on the copy, and sends the copy's refreshes to the entity in batches
/// (<see cref="TakeRefreshes"/>). Any other packet goes to the entity, which revokes every copy before the entry
/// changes (<see cref="Revoke"/>), so a copy never answers what the entity would answer otherwise. A copy answers only
/// within its lease term, counted from when this node asked (the entity counts from when it granted, later), so an
/// entity that cannot reach this node may go on once the term has passed. No Akka system is needed to use it.
/// </summary>
public sealed class FlowCache(long termMs = FlowCache.DefaultTermMs, int capacity = 1 << 20)
{
    public const long DefaultTermMs = 2000;

    /// <summary>
    /// How far a copy may carry the entry's expiry beyond what its entity has confirmed (the grant, or the answer to
    /// the last refresh): a packet that would move it further goes to the entity. The entity tells its pool when the
    /// expiry moved by more than <c>ConntrackEntity.ReportSlackMs</c> less this, so the pool's copy (listings,
    /// expiry, port reuse) is still never more than <c>ReportSlackMs</c> early, however late the refreshes travel.
    /// </summary>
    public const long WindowMs = 500;

    private readonly ConcurrentDictionary<FiveTuple, FlowLease> _byTuple = new();
    private long _generation;
    // Installs, revocations and drops take this gate: a grant still on its way when its round was revoked (the revocation
    // found nothing here) must not be installed after the entity has moved on. The rounds revoked, for two terms:
    private readonly object _gate = new();
    private readonly Dictionary<FiveTuple, (ulong Id, ulong Epoch, long AtMs)> _revoked = [];
    private readonly HashSet<Address> _unreachable = [];

    public long TermMs => termMs;

    /// <summary>Copies held (each is found by both of its tuples).</summary>
    public int Count => _byTuple.Count / 2;

    /// <summary>Moves on at every <see cref="DropAll"/>: a grant asked for before it is not installed.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>
    /// The verdict the entity would give, when this node holds a live copy and the packet only refreshes it (the copy
    /// is refreshed, as the entity's state would be). False: the packet goes to the entity.
    /// </summary>
    public bool TryAnswer(in CorePacket packet, long nowMs, ConntrackTimeouts timeouts, out CoreVerdict verdict)
    {
        verdict = default;
        var tuple = packet.Tuple;
        if (tuple.Proto is not (Protocol.Tcp or Protocol.Udp) || packet.Embedded is not null) return false;
        if (!_byTuple.TryGetValue(tuple, out var lease)) return false;
        var dir = tuple == lease.Original ? Direction.Original : Direction.Reply;
        lock (lease)
        {
            if (lease.Ended || nowMs >= lease.ValidUntilMs || lease.State.IsExpired(nowMs)) return false;
            if (!ConnTracker.IsPureRefresh(lease.State, packet.Flags)) return false;
            var next = lease.State;
            ConnTracker.Update(ref next, dir, packet.Flags, packet.SeqEnd, nowMs, timeouts);
            if (next.ExpiresMs > lease.ConfirmedExpiresMs + WindowMs) return false; // the entity answers, and reports on
            lease.State = next;
            lease.Dirty = true;
        }
        var kind = lease.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
        var rewritten = dir == Direction.Original
            ? tuple.WithSource(lease.Reply.Dst, lease.Reply.DPort)
            : tuple.WithDestination(lease.Original.Src, lease.Original.SPort);
        verdict = new CoreVerdict(kind, Core.Nat.DropReason.None, rewritten, dir, lease.Id, false);
        return true;
    }

    /// <summary>
    /// Takes on a grant that came with a verdict. <paramref name="askedAtMs"/> is when this node sent the packet (the
    /// term counts from there) and <paramref name="generation"/> the <see cref="Generation"/> then: a grant asked for
    /// before an administrator's deletion may be for an entry that is gone by now, so it is not installed.
    /// </summary>
    public bool Install(Lease grant, IActorRef owner, long askedAtMs, long generation)
    {
        var original = grant.Original.ToCore();
        var state = grant.State.ToCore();
        if (!ConnTracker.IsSteady(state)) return false;
        lock (_gate)
        {
            if (generation != Generation || _byTuple.Count >= 2 * capacity || _unreachable.Contains(owner.Path.Address)) return false;
            if (_revoked.TryGetValue(original, out var r) && r.Id == grant.ConntrackId && r.Epoch == grant.Epoch) return false;
            return InstallLocked(grant, original, state, owner, askedAtMs);
        }
    }

    private bool InstallLocked(Lease grant, in FiveTuple original, in CoreState state, IActorRef owner, long askedAtMs)
    {
        if (_byTuple.TryGetValue(original, out var held))
        {
            lock (held)
            {
                if (!held.Ended && held.Id == grant.ConntrackId && held.Epoch == grant.Epoch)
                {
                    // The same round: keep the refreshes not yet sent, take the owner's later expiry.
                    ConnTracker.MergeRefresh(ref held.State, state);
                    held.ConfirmedExpiresMs = Math.Max(held.ConfirmedExpiresMs, state.ExpiresMs);
                    held.ValidUntilMs = Math.Max(held.ValidUntilMs, askedAtMs + termMs);
                    held.Owner = owner;
                    return true;
                }
                held.Ended = true; // an earlier round or entry: the entity revoked it (or gave up waiting) already
            }
        }
        var lease = new FlowLease(grant.ConntrackId, grant.Epoch, original, grant.Reply.ToCore(), state, owner, askedAtMs + termMs);
        _byTuple[original] = lease;
        _byTuple[lease.Reply] = lease;
        return true;
    }

    /// <summary>
    /// Stops answering for the entry, and returns the copy's state if it holds refreshes the entity has not seen (of
    /// the round <paramref name="epoch"/>; another round's copy is dropped without them).
    /// </summary>
    public CoreState? Revoke(in FiveTuple original, ulong conntrackId, ulong epoch, long nowMs)
    {
        lock (_gate)
        {
            _revoked[original] = (conntrackId, epoch, nowMs);
            if (!_byTuple.TryGetValue(original, out var lease) || lease.Id != conntrackId) return null;
            CoreState? pending;
            lock (lease)
            {
                pending = lease.Dirty && lease.Epoch == epoch && !lease.Ended ? lease.State : null;
                lease.Ended = true;
                lease.Dirty = false;
            }
            Remove(lease);
            return pending;
        }
    }

    /// <summary>Entities on this node may be gone (unreachable, removed): no grant of theirs is taken until it is back.</summary>
    public void Reachable(Address node, bool reachable)
    {
        lock (_gate)
        {
            if (reachable) _unreachable.Remove(node);
            else _unreachable.Add(node);
        }
        if (!reachable) DropOwnedBy(node);
    }

    /// <summary>
    /// The copies with refreshes since the last call (their state now), to be sent to their entities; copies whose
    /// term passed with nothing left to send are dropped.
    /// </summary>
    public List<(FlowLease Lease, CoreState State)> TakeRefreshes(long nowMs)
    {
        var due = new List<(FlowLease, CoreState)>();
        foreach (var (tuple, lease) in _byTuple)
        {
            if (tuple != lease.Original) continue;
            bool drop;
            lock (lease)
            {
                if (lease.Dirty && !lease.Ended)
                {
                    due.Add((lease, lease.State));
                    lease.Dirty = false;
                    lease.RefreshSentMs = nowMs;
                }
                drop = lease.Ended || (nowMs >= lease.ValidUntilMs && !lease.Dirty && nowMs - lease.RefreshSentMs > termMs);
            }
            if (drop) Remove(lease);
        }
        lock (_gate)
            if (_revoked.Count > 0)
                foreach (var (tuple, r) in _revoked.ToList())
                    if (nowMs - r.AtMs > 2 * termMs) _revoked.Remove(tuple);
        return due;
    }

    /// <summary>The entity's answer to a refresh: the term runs on from when the refresh was sent, or the copy goes.</summary>
    public void Renewed(LeaseRenewed m)
    {
        if (!_byTuple.TryGetValue(m.Original.ToCore(), out var lease) || lease.Id != m.ConntrackId) return;
        lock (lease)
        {
            if (m.Ended || lease.Epoch != m.Epoch) lease.Ended = true;
            else
            {
                lease.ValidUntilMs = Math.Max(lease.ValidUntilMs, lease.RefreshSentMs + termMs);
                if (m.ExpiresMs > lease.State.ExpiresMs) lease.State.ExpiresMs = m.ExpiresMs; // others' refreshes
                lease.ConfirmedExpiresMs = Math.Max(lease.ConfirmedExpiresMs, m.ExpiresMs);
                return;
            }
        }
        Remove(lease);
    }

    /// <summary>The node of the entity that leased this connection to this node, if a copy is held.</summary>
    public Address? OwnerOf(in FiveTuple original) => _byTuple.TryGetValue(original, out var lease) ? lease.Owner.Path.Address : null;

    /// <summary>Drops the copies granted by entities on a node that is unreachable or gone.</summary>
    public int DropOwnedBy(Address node)
    {
        int n = 0;
        foreach (var (tuple, lease) in _byTuple)
        {
            if (tuple != lease.Original || lease.Owner.Path.Address != node) continue;
            lock (lease) lease.Ended = true;
            Remove(lease);
            n++;
        }
        return n;
    }

    /// <summary>Drops every copy (after conntrack -D/-F or the masquerade clean-up): the entities' next answers count.</summary>
    public int DropAll()
    {
        lock (_gate) return DropAllLocked();
    }

    private int DropAllLocked()
    {
        Interlocked.Increment(ref _generation);
        int n = 0;
        foreach (var (tuple, lease) in _byTuple)
        {
            if (tuple != lease.Original) continue;
            lock (lease) lease.Ended = true;
            Remove(lease);
            n++;
        }
        return n;
    }

    private void Remove(FlowLease lease)
    {
        _byTuple.TryRemove(new KeyValuePair<FiveTuple, FlowLease>(lease.Original, lease));
        _byTuple.TryRemove(new KeyValuePair<FiveTuple, FlowLease>(lease.Reply, lease));
    }
}

/// <summary>One leased copy: the entry's tuples and id, and its state as the packets answered here left it.</summary>
public sealed class FlowLease(ulong id, ulong epoch, FiveTuple original, FiveTuple reply, CoreState state, IActorRef owner, long validUntilMs)
{
    public ulong Id { get; } = id;
    public ulong Epoch { get; } = epoch;
    public FiveTuple Original { get; } = original;
    public FiveTuple Reply { get; } = reply;
    public bool Translated { get; } = reply.Dst != original.Src || reply.DPort != original.SPort;

    /// <summary>The entity that granted it (refreshes go straight to it).</summary>
    public IActorRef Owner { get; internal set; } = owner;

    internal CoreState State = state;
    internal long ConfirmedExpiresMs = state.ExpiresMs;
    internal long ValidUntilMs = validUntilMs;
    internal long RefreshSentMs;
    internal bool Dirty;
    internal bool Ended;
}
