using ActorNat.Cluster.Messages;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ConnState = ActorNat.Core.Conntrack.ConnState;
using NatRange = ActorNat.Core.Nat.NatRange;

namespace ActorNat.Cluster.Pool;

/// <summary>
/// What one port pool knows, without an actor: the reply tuples it holds (its copies of the entries), the index by
/// original tuple, and when each holder is next checked. Commands are decided here (<see cref="Allocate"/>,
/// <see cref="Refresh"/>); every journaled event changes the state through one <c>Apply</c>, used by recovery and by
/// the commands alike. <see cref="PortPoolEntity"/> only journals, answers and routes. Unit-tested without an actor system.
/// </summary>
public sealed class PoolState(IPv4 ip)
{
    /// <summary>The pool's copy of an entry, and when it next asks the entity whether its time ran out.</summary>
    public struct Holder
    {
        public ConntrackEntry Entry;
        public long CheckAtMs;
        /// <summary>
        /// The entity has reported since this pool started. A recovered copy only knows the state at its
        /// reservation, so it is never taken for expired until its entity has confirmed (refreshes are not journaled).
        /// </summary>
        public bool Verified;
        /// <summary>The state as last journaled.</summary>
        public ConnState Journaled;
    }

    private readonly Dictionary<FiveTuple, Holder> _holders = [];
    private readonly Dictionary<FiveTuple, FiveTuple> _byOriginal = [];
    private readonly PriorityQueue<FiveTuple, long> _expiry = new();

    /// <summary>The NAT address this pool hands out.</summary>
    public IPv4 Ip { get; } = ip;

    /// <summary>Replaying the journal: copies are not verified, and nothing is queued for expiry until the end.</summary>
    public bool Recovering { get; private set; } = true;

    public int Count => _holders.Count;
    public IEnumerable<Holder> Holders => _holders.Values;
    public bool TryGet(in FiveTuple reply, out Holder h) => _holders.TryGetValue(reply, out h);

    // ---- events: the one way the held set changes ----

    public void Apply(Reserved r) => Hold(new ConntrackEntry
    {
        Id = r.ConntrackId, Original = r.Original.ToCore(), Reply = r.Reply.ToCore(), State = r.State.ToCore(),
        MasqueradeInterface = r.MasqueradeInterface.Length == 0 ? null : r.MasqueradeInterface,
    });

    public void Apply(ReservedBatch b)
    {
        foreach (var r in b.Reserved) Apply(r);
    }

    public void Apply(Released r) => Drop(r.Reply.ToCore());

    /// <summary>A journaled state change or refresh of the entry this pool holds (an earlier connection's is ignored).</summary>
    public void Apply(HolderUpdate u)
    {
        var reply = u.Reply.ToCore();
        if (!_holders.TryGetValue(reply, out var h) || !SameEntry(h, u)) return;
        var state = u.State.ToCore();
        h.Entry.State = h.Journaled = state;
        h.CheckAtMs = state.ExpiresMs;
        if (!Recovering)
        {
            h.Verified = true;
            _expiry.Enqueue(reply, h.CheckAtMs);
        }
        _holders[reply] = h;
    }

    /// <summary>A snapshot's entries (<see cref="Snapshot"/>).</summary>
    public void Apply(EntryList snapshot)
    {
        foreach (var e in snapshot.Entries) Hold(e.ToCore());
    }

    /// <summary>
    /// The end of recovery. What the journal knows of the holders' expiry is as old as their last journaled event:
    /// refreshes since are lost with the node that had them. Every holder gets a full timeout from now, so an active
    /// connection is never taken for expired; an idle one goes a timeout later than the kernel would have let it.
    /// </summary>
    public void Recovered(long nowMs, ConntrackTimeouts timeouts)
    {
        Recovering = false;
        foreach (var reply in _holders.Keys.ToList())
        {
            var h = _holders[reply];
            h.Entry.State.ExpiresMs = Math.Max(h.Entry.State.ExpiresMs, nowMs + timeouts.For(h.Entry.State) * 1000L);
            h.CheckAtMs = h.Entry.State.ExpiresMs;
            _holders[reply] = h;
            _expiry.Enqueue(reply, h.CheckAtMs);
        }
    }

    private void Hold(in ConntrackEntry e)
    {
        _holders[e.Reply] = new Holder { Entry = e, CheckAtMs = e.State.ExpiresMs, Verified = !Recovering, Journaled = e.State };
        _byOriginal[e.Original] = e.Reply;
        if (!Recovering) _expiry.Enqueue(e.Reply, e.State.ExpiresMs);
    }

    private void Drop(in FiveTuple reply)
    {
        if (_holders.Remove(reply, out var h)) _byOriginal.Remove(h.Entry.Original);
    }

    private static bool SameEntry(in Holder h, HolderUpdate u) => u.ConntrackId == 0 || u.ConntrackId == h.Entry.Id;

    // ---- commands ----

    /// <summary>The reply tuple held for an original tuple, live or not.</summary>
    public bool TryReplyOf(in FiveTuple original, out FiveTuple reply) => _byOriginal.TryGetValue(original, out reply);

    /// <summary>The entry held for an original tuple whose time has not surely run out (a repeated allocation).</summary>
    public bool TryHeldByOriginal(in FiveTuple original, long nowMs, List<(ConntrackEntry Entry, DestroyReason Reason)> expired, out ConntrackEntry entry)
    {
        entry = default;
        if (!_byOriginal.TryGetValue(original, out var reply) || !HeldAndLive(reply, nowMs, expired)) return false;
        entry = _holders[reply].Entry;
        return true;
    }

    /// <summary>
    /// Is the tuple held by an entry whose time has not surely run out? The entity reports every expiry that moved by
    /// more than the report slack, so a verified copy older than that is expired for certain: it is released here
    /// (added to <paramref name="expired"/>) and its tuple is free at once, as in the kernel.
    /// </summary>
    public bool HeldAndLive(in FiveTuple reply, long nowMs, List<(ConntrackEntry Entry, DestroyReason Reason)> expired)
    {
        if (!_holders.TryGetValue(reply, out var h)) return false;
        if (!h.Verified || h.Entry.State.ExpiresMs + Conntrack.ConntrackEntity.ReportSlackMs > nowMs) return true;
        expired.Add((h.Entry, DestroyReason.Expired));
        Drop(reply);
        return false;
    }

    /// <summary>Releases an entry (expired, deleted, evicted, gone): returns it when it was held.</summary>
    public bool Release(in FiveTuple reply, out ConntrackEntry entry)
    {
        entry = default;
        if (!_holders.TryGetValue(reply, out var h)) return false;
        entry = h.Entry;
        Drop(reply);
        return true;
    }

    /// <summary>
    /// Runs Core's allocator (step 1, steps 2-4, or all, as <paramref name="phase"/> says) over this pool's tuples and
    /// the bysource candidates the index attached. Entries released on the way (an expired copy, a TIME_WAIT holder a
    /// SYN may take over) are added to <paramref name="released"/>, in order; the caller journals and announces them
    /// before the reservation.
    /// </summary>
    public Allocation Allocate(uint phase, in FiveTuple original, in NatRange range, bool tcpSyn, uint synSeqEnd,
        IReadOnlyList<SourceMapping> candidates, IRandomSource random, long nowMs, List<(ConntrackEntry Entry, DestroyReason Reason)> released)
    {
        var space = new Space(this, candidates, nowMs, released);
        return phase switch
        {
            1 => PortAllocator.KeepOrReuse(ref space, original, range),
            2 => PortAllocator.Fresh(ref space, original, range, tcpSyn, synSeqEnd, random),
            _ => PortAllocator.Allocate(ref space, original, range, tcpSyn, synSeqEnd, random),
        };
    }

    /// <summary>An entity's report of its entry: whether it is held, and whether the change must be journaled.</summary>
    public enum RefreshOutcome { NotHeld, Volatile, Journal }

    /// <summary>
    /// This pool is the entry's memory: a state change, or a refresh once the journaled expiry is more than half a
    /// timeout behind, is journaled (then <see cref="Apply(HolderUpdate)"/>); a smaller refresh is kept in memory only.
    /// </summary>
    public RefreshOutcome Refresh(HolderUpdate m, long nowMs)
    {
        var reply = m.Reply.ToCore();
        if (!_holders.TryGetValue(reply, out var h) || !SameEntry(h, m)) return RefreshOutcome.NotHeld;
        var state = m.State.ToCore();
        var journaled = h.Journaled;
        bool material = state.Tcp != journaled.Tcp || state.Status != journaled.Status
                        || state.ExpiresMs - journaled.ExpiresMs > (state.ExpiresMs - nowMs) / 2;
        if (material) return RefreshOutcome.Journal;
        h.Entry.State = state;
        h.CheckAtMs = state.ExpiresMs;
        h.Verified = true;
        _holders[reply] = h;
        _expiry.Enqueue(reply, h.CheckAtMs);
        return RefreshOutcome.Volatile;
    }

    /// <summary>Holders whose check time has come: each is asked again after <paramref name="retryMs"/> unless it answers.</summary>
    public List<ConntrackEntry> Due(long nowMs, long retryMs)
    {
        var due = new List<ConntrackEntry>();
        while (_expiry.TryPeek(out var reply, out var at) && at <= nowMs)
        {
            _expiry.Dequeue();
            if (!_holders.TryGetValue(reply, out var h) || h.CheckAtMs != at) continue; // a stale queue entry
            h.CheckAtMs = nowMs + retryMs;
            _holders[reply] = h;
            _expiry.Enqueue(reply, h.CheckAtMs);
            due.Add(h.Entry);
        }
        return due;
    }

    /// <summary>The entries the masquerade notifier destroys (Core's rule), released here.</summary>
    public List<ConntrackEntry> ReleaseMasqueraded(string device, IPv4? removedAddress)
    {
        var gone = _holders.Values.Where(h => NatRules.MasqueradeGone(h.Entry, device, removedAddress)).Select(h => h.Entry).ToList();
        foreach (var e in gone) Drop(e.Reply);
        return gone;
    }

    /// <summary>The snapshot: every entry held.</summary>
    public EntryList Snapshot(long nowMs, string node)
    {
        var list = new EntryList { NowMs = nowMs };
        foreach (var h in _holders.Values) list.Entries.Add(h.Entry.ToMsg(node));
        return list;
    }

    /// <summary>The allocator's view of this pool: its holders, and the bysource candidates the index attached.</summary>
    private readonly struct Space(PoolState pool, IReadOnlyList<SourceMapping> candidates, long nowMs, List<(ConntrackEntry Entry, DestroyReason Reason)> released) : ITupleSpace
    {
        public bool IsTaken(in FiveTuple tuple) =>
            tuple.Dst != pool.Ip || pool.HeldAndLive(tuple, nowMs, released); // never hand out a tuple another pool owns

        public bool TryEvictForSyn(in FiveTuple reply, uint synSeqEnd)
        {
            if (!pool._holders.TryGetValue(reply, out var h) || !NatRules.MayEvictForSyn(h.Entry.State, synSeqEnd)) return false;
            released.Add((h.Entry, DestroyReason.Evicted));
            pool.Drop(reply);
            return true;
        }

        public bool TryFindBySource(Protocol proto, IPv4 client, ushort clientPort, in NatRange range, out IPv4 natIp, out ushort natPort) =>
            BySource.TryFind(candidates, range, out natIp, out natPort);
    }
}

/// <summary>The bysource candidates an index attached to an allocation (newest first): Core's rule picks one.</summary>
public static class BySource
{
    public static bool TryFind(IReadOnlyList<SourceMapping> candidates, in NatRange range, out IPv4 natIp, out ushort natPort)
    {
        foreach (var c in candidates)
        {
            var ip = new IPv4(c.Ip);
            // The index keeps live mappings only (an entity unregisters its own when it goes).
            if (!NatRules.BySourceUsable(expired: false, range, ip, (ushort)c.Port)) continue;
            natIp = ip;
            natPort = (ushort)c.Port;
            return true;
        }
        natIp = default;
        natPort = 0;
        return false;
    }
}
