using Akka.Actor;
using Akka.Persistence;
using ActorNat.Cluster.Messages;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Core.Engine;
using CoreVerdict = ActorNat.Core.Engine.Verdict;

namespace ActorNat.Cluster.Pool;

/// <summary>
/// One NAT address's share of the reply-tuple space (one bucket of server endpoints): it runs Core's
/// <see cref="PortAllocator"/> over the tuples it holds, makes each reservation durable before answering, finds the
/// entry of an answer packet (the reply-tuple index), and owns the expiry timers of its holders, so idle conntrack
/// entities need not stay in memory. Remembered: after a node's loss it comes back by itself and keeps expiring.
/// </summary>
public sealed class PortPoolEntity : ReceivePersistentActor, IWithTimers
{
    private const int SnapshotEvery = 1000;
    private static readonly long ExpireRetryMs = 5000;

    private readonly NatNodeContext _ctx;
    private readonly string _id;
    private readonly IPv4 _ip;
    private readonly SeededRandom _random;
    private readonly Dictionary<FiveTuple, Holder> _holders = [];
    private readonly Dictionary<FiveTuple, FiveTuple> _byOriginal = [];
    private readonly PriorityQueue<FiveTuple, long> _expiry = new();
    private int _sinceSnapshot;
    private readonly Limits.PoolGate _gate; // nf_conntrack_max: early drop or table-full

    /// <summary>The pool's copy of an entry, and when it next asks the entity whether its time ran out.</summary>
    private struct Holder
    {
        public ConntrackEntry Entry;
        public long CheckAtMs;
        /// <summary>
        /// The entity has reported since this pool started. A recovered copy only knows the state at its
        /// reservation, so it is never taken for expired until its entity has confirmed (refreshes are not journaled).
        /// </summary>
        public bool Verified;
        /// <summary>The state as last journaled.</summary>
        public ActorNat.Core.Conntrack.ConnState Journaled;
    }

    public PortPoolEntity(NatNodeContext ctx, string id)
    {
        _ctx = ctx;
        _id = id;
        _ip = Keys.PoolAddress(id);
        _random = new SeededRandom(ctx.Options.Seed ^ SnatHash.JHash2((uint)id.GetHashCode(), (uint)id.Length, 0, 0, 7));
        _gate = new Limits.PoolGate(ctx, TryHeld, () => _holders.Values.Select(h => h.Entry), e => Evict(e, DestroyReason.EarlyDrop));

        Recover<SnapshotOffer>(o =>
        {
            if (o.Snapshot is EntryList list)
                foreach (var e in list.Entries) Hold(e.ToCore());
        });
        Recover<Reserved>(HoldReserved);
        Recover<ReservedBatch>(b =>
        {
            foreach (var r in b.Reserved) HoldReserved(r);
        });
        Recover<Released>(r => Drop(r.Reply.ToCore()));
        Recover<HolderUpdate>(u =>
        {
            var reply = u.Reply.ToCore();
            if (!_holders.TryGetValue(reply, out var h) || !SameEntry(h, u)) return;
            h.Entry.State = h.Journaled = u.State.ToCore();
            h.CheckAtMs = h.Entry.State.ExpiresMs;
            _holders[reply] = h;
        });
        Recover<RecoveryCompleted>(_ => OnRecovered());
        _recovering = true;

        // Nothing that changes the pool runs while the node is fenced: another incarnation may be acting for it.
        Command<Allocate>(Fenced<Allocate>(OnAllocate));
        Command<PoolAllocateBatch>(Fenced<PoolAllocateBatch>(OnAllocateBatch));
        Command<PoolPacket>(OnPacket);
        Command<HolderUpdate>(Fenced<HolderUpdate>(OnUpdate));
        Command<Release>(Fenced<Release>(r =>
        {
            var reply = r.Reply.ToCore();
            if (_holders.TryGetValue(reply, out var h) && h.Entry.Id == r.ConntrackId) Free(reply);
        }));
        Command<EntryGone>(Fenced<EntryGone>(g =>
        {
            if (_byOriginal.TryGetValue(g.Original.ToCore(), out var reply)) Free(reply);
        }));
        Command<ListEntries>(OnList);
        Command<DestroyMasqueraded>(Fenced<DestroyMasqueraded>(OnDestroyMasqueraded));
        Command<Tick>(Fenced<Tick>(_ => Sweep()));
        Command<SaveSnapshotSuccess>(Fenced<SaveSnapshotSuccess>(s => DeleteMessages(s.Metadata.SequenceNr)));
        Command<SaveSnapshotFailure>(_ => { });
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
        Command<StopEntity>(_ =>
        {
            // Handed off or stopping: answer the reservations waiting for their write first (their entities would
            // otherwise ask again after a timeout), and let every event in flight land (a holder update still being
            // written when the next incarnation recovers would be missing from it).
            if (_writing || _unwritten > 0) _stopWhenWritten = true;
            else Context.Stop(Self);
        });
    }

    public override string PersistenceId => "pool-" + _id;

    /// <summary>
    /// A fenced node changes nothing and answers nothing: the message is dropped (its sender asks again, elsewhere
    /// once this node is downed).
    /// </summary>
    private Action<T> Fenced<T>(Action<T> handle) => m =>
    {
        if (_ctx.Fence.MayAct) handle(m);
        else Interlocked.Increment(ref _ctx.Counters.Fenced);
    };

    private void HoldReserved(Reserved r) => Hold(new ConntrackEntry
    {
        Id = r.ConntrackId, Original = r.Original.ToCore(), Reply = r.Reply.ToCore(), State = r.State.ToCore(),
        MasqueradeInterface = r.MasqueradeInterface.Length == 0 ? null : r.MasqueradeInterface,
    });

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _ctx.ActivationObserver?.Invoke(_ctx.NodeName, PersistenceId, true);
        base.PreStart();
    }

    protected override void PostStop()
    {
        Interlocked.Add(ref _ctx.Counters.Held, -_holders.Count); // moved or stopped: no longer held here
        _ctx.ActivationObserver?.Invoke(_ctx.NodeName, PersistenceId, false);
        base.PostStop();
    }

    private bool _recovering;

    private void OnRecovered()
    {
        _recovering = false;
        // What this pool knows of its holders' expiry is as old as their last journaled event: refreshes since are
        // lost with the node that had them. Grant every holder a full timeout from now, so an active connection is
        // never taken for expired; an idle one goes a timeout later than the kernel would have let it.
        var now = _ctx.Clock.NowMs;
        foreach (var reply in _holders.Keys.ToList())
        {
            var h = _holders[reply];
            h.Entry.State.ExpiresMs = Math.Max(h.Entry.State.ExpiresMs, now + _ctx.Timeouts.For(h.Entry.State) * 1000L);
            h.CheckAtMs = h.Entry.State.ExpiresMs;
            _holders[reply] = h;
            _expiry.Enqueue(reply, h.CheckAtMs);
        }
        // Rebuild the (volatile) bysource index from what this pool holds.
        foreach (var h in _holders.Values) RegisterSource(h.Entry);
        Timers.StartPeriodicTimer("sweep", Tick.Instance, _ctx.Options.SweepInterval);
        _ctx.RecoveryObserver?.Invoke(_ctx.NodeName, PersistenceId); // failover timelines (chaos)
    }

    private void OnAllocate(Allocate m)
    {
        var original = m.Original.ToCore();
        if (_byOriginal.TryGetValue(original, out var heldReply) && HeldAndLive(heldReply))
        {
            // The same connection asks again: answer with the mapping it has, once its reservation is durable.
            var held = _holders[heldReply].Entry;
            if (m.AnswerVerdict)
            {
                // Not a first packet after all: its entity moves the entry on, once the reservation is durable.
                var onward = new EntityPacket { Original = m.Original, Direction = 0, Packet = m.Packet, Holder = ToMsg(held), RequestId = m.RequestId };
                var sender = Sender;
                Acknowledge(null, () => _ctx.ConntrackRegion.Tell(onward, sender));
                return;
            }
            var existing = new Allocated
            {
                Ok = true, Ip = held.NatIp.Value, Port = held.NatPort, Existing = true, ConntrackId = held.Id, State = held.State.ToMsg(),
            };
            Acknowledge(null, Sender, existing);
            return;
        }
        if (m.Phase != 2 && !_gate.Admit(m, Sender)) return;
        var range = m.Range.ToCore();
        var space = new PoolSpace(this, m.Candidates);
        Allocation a;
        switch (m.Phase)
        {
            case 1:
                a = PortAllocator.KeepOrReuse(ref space, original, range);
                if (!a.Succeeded)
                {
                    var next = m.Clone();
                    next.Phase = 2;
                    next.Pool = Keys.PoolFor(original, SnatHash.Pick(range, original.Src, original.Dst), _ctx.Options.PoolBuckets);
                    _ctx.PoolRegion.Forward(next);
                    return;
                }
                break;
            case 2:
                a = PortAllocator.Fresh(ref space, original, range, m.TcpSyn, m.SynSeqEnd, _random);
                break;
            default:
                a = PortAllocator.Allocate(ref space, original, range, m.TcpSyn, m.SynSeqEnd, _random);
                break;
        }
        if (!a.Succeeded || a.Ip != _ip)
        {
            if (m.AnswerVerdict) AnswerExhausted(original, a.Collisions, m.RequestId);
            else Sender.Tell(new Allocated { Ok = false, Collisions = a.Collisions });
            return;
        }
        var state = m.State.ToCore();
        if (a.Ip != original.Src || a.Port != original.Key) state.Status |= ConnStatus.SrcNat;
        var entry = new ConntrackEntry
        {
            Id = m.ConntrackId, Original = original, Reply = PortAllocator.ReplyFor(original, a.Ip, a.Port), State = state,
            MasqueradeInterface = m.MasqueradeInterface.Length == 0 ? null : m.MasqueradeInterface,
        };
        Hold(entry); // taken at once, so allocations behind this one see it before the write completes
        var reservation = new Reserved
        {
            Original = m.Original, Reply = entry.Reply.ToMsg(), State = state.ToMsg(), ConntrackId = m.ConntrackId,
            MasqueradeInterface = m.MasqueradeInterface,
        };
        if (m.AnswerVerdict)
        {
            Created(entry, a.Collisions);
            var kind = entry.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
            var verdict = new CoreVerdict(kind, DropReason.None, original.WithSource(a.Ip, a.Port), Direction.Original, entry.Id, true).ToMsg();
            verdict.RequestId = m.RequestId;
            Acknowledge(reservation, Sender, verdict);
            return;
        }
        var answer = new Allocated { Ok = true, Ip = a.Ip.Value, Port = a.Port, Kind = (uint)a.Kind, Collisions = a.Collisions };
        Acknowledge(reservation, Sender, answer);
    }

    /// <summary>
    /// The first packets of one ingress batch that fall in this pool: allocated one after another, their reservations
    /// journaled as one event, each answered with its verdict once that event is durable.
    /// </summary>
    private void OnAllocateBatch(PoolAllocateBatch m)
    {
        _batching = true;
        try
        {
            foreach (var a in m.Allocations) OnAllocate(a);
        }
        finally
        {
            _batching = false;
        }
        if (!_writing) WriteWaiting();
    }

    private bool _batching;

    /// <summary>A new connection without an entity yet: what its entity did once it had its allocation.</summary>
    private void Created(in ConntrackEntry entry, int collisions)
    {
        Interlocked.Add(ref _ctx.Counters.Found, collisions);
        Interlocked.Increment(ref _ctx.Counters.Insert);
        _ctx.EntryEvent?.Invoke(entry, null);
        RegisterSource(entry);
    }

    private void AnswerExhausted(in FiveTuple original, int collisions, uint requestId)
    {
        Interlocked.Add(ref _ctx.Counters.Found, collisions);
        Interlocked.Increment(ref _ctx.Counters.InsertFailed);
        Interlocked.Increment(ref _ctx.Counters.Drop);
        var verdict = CoreVerdict.Dropped(DropReason.PortsExhausted, original).ToMsg();
        verdict.RequestId = requestId;
        Sender.Tell(verdict);
    }

    /// <summary>
    /// Answers an allocation once its reservation is durable. Group commit: while one write of reservations is in
    /// flight, the next ones wait here and go as one event (one journal row) when it completes, so the journal's cost
    /// per new flow falls as the load rises, and an idle pool writes at once. A repeated allocation (no event) is
    /// answered with the next write, since the reservation it repeats may be waiting here too.
    /// </summary>
    private void Acknowledge(Reserved? reservation, IActorRef to, object answer) => Acknowledge(reservation, () => to.Tell(answer));

    private void Acknowledge(Reserved? reservation, Action answer)
    {
        _waitingForWrite.Add((reservation, answer));
        if (!_writing && !_batching) WriteWaiting();
    }

    private readonly List<(Reserved? Event, Action Answer)> _waitingForWrite = [];
    private bool _writing, _stopWhenWritten;

    private void Written()
    {
        _writing = false;
        if (_stopWhenWritten && _unwritten == 0) Context.Stop(Self);
    }

    private void WriteWaiting()
    {
        if (_waitingForWrite.Count == 0)
        {
            Written();
            return;
        }
        var batch = _waitingForWrite.ToArray();
        _waitingForWrite.Clear();
        var events = batch.Where(b => b.Event is not null).Select(b => b.Event!).ToList();
        if (events.Count == 0)
        {
            // Only repeats, and every reservation before them is durable (no write in flight): answer now, unless
            // this node is fenced (another incarnation may hold the truth by now).
            if (_ctx.Fence.MayAct) foreach (var b in batch) b.Answer();
            Written();
            return;
        }
        Persist(batch, events);
    }

    private void Persist((Reserved? Event, Action Answer)[] batch, List<Reserved> events)
    {
        _writing = true;
        object journaled = events.Count == 1 ? events[0] : new ReservedBatch { Reserved = { events } };
        _unwritten++;
        PersistAsync(journaled, _ =>
        {
            // Acknowledged only once durable, and only by a node still entitled to act: a write that completes after a
            // pause or behind a partition is not acknowledged (the caller asks again and gets the truth).
            if (_ctx.Fence.MayAct) foreach (var b in batch) b.Answer();
            MaybeSnapshot();
            WriteWaiting();
        });
    }

    /// <summary>
    /// Before a release is journaled, the reservations still waiting are: the journal must never replay a release
    /// before the reservation it frees (a flushed entry would come back after a restart).
    /// </summary>
    private void WriteReservationsNow()
    {
        if (!_waitingForWrite.Exists(w => w.Event is not null)) return;
        var batch = _waitingForWrite.ToArray();
        _waitingForWrite.Clear();
        Persist(batch, batch.Where(b => b.Event is not null).Select(b => b.Event!).ToList());
    }

    private void OnPacket(PoolPacket m)
    {
        var tuple = m.Packet.LookupKey(); // an ICMP error is found by the header it quotes
        _ctx.ConntrackRegion.Forward(_holders.TryGetValue(tuple, out var h)
            ? new EntityPacket { Original = h.Entry.Original.ToMsg(), Direction = (uint)Direction.Reply, Packet = m.Packet, Holder = ToMsg(h.Entry), RequestId = m.RequestId }
            : new EntityPacket { Original = tuple.ToMsg(), Direction = (uint)Direction.Original, Packet = m.Packet, RequestId = m.RequestId });
    }

    private void OnUpdate(HolderUpdate m)
    {
        if (_ctx.LoseAtPool?.Invoke(m) == true) return;
        var reply = m.Reply.ToCore();
        var ack = new HolderUpdateAck { Reply = m.Reply, Seq = m.Seq, Held = true };
        if (!_holders.TryGetValue(reply, out var h) || !SameEntry(h, m))
        {
            ack.Held = false; // freed here (expired, deleted, evicted): the entity must not go on with it
            Sender.Tell(ack);
            return;
        }
        var state = m.State.ToCore();
        var journaled = h.Journaled;
        h.Entry.State = state;
        h.CheckAtMs = state.ExpiresMs;
        h.Verified = true;
        // This pool is the entry's memory: journal a state change, and a refresh once the journaled expiry is more
        // than half a timeout behind (so a recovered copy is never taken for expired while its connection is busy).
        bool material = state.Tcp != journaled.Tcp || state.Status != journaled.Status
                        || state.ExpiresMs - journaled.ExpiresMs > (state.ExpiresMs - _ctx.Clock.NowMs) / 2;
        if (material) h.Journaled = state;
        _holders[reply] = h;
        _expiry.Enqueue(reply, h.CheckAtMs);
        if (!material)
        {
            Sender.Tell(ack);
            return;
        }
        // Acknowledged once durable (the entity sends it again until then), and only by a node still entitled to act.
        var sender = Sender;
        _unwritten++;
        PersistAsync(m, _ =>
        {
            if (_ctx.Fence.MayAct) sender.Tell(ack);
            MaybeSnapshot();
        });
    }

    /// <summary>An update from the entry this pool holds, not from an earlier connection of the same reply tuple.</summary>
    private static bool SameEntry(in Holder h, HolderUpdate u) => u.ConntrackId == 0 || u.ConntrackId == h.Entry.Id;

    private void OnList(ListEntries m)
    {
        var filter = m.Filter.ToCore();
        var list = new EntryList { NowMs = _ctx.Clock.NowMs };
        IEnumerable<Holder> matching = _holders.Values.Where(h => filter.Matches(h.Entry));
        if (m.Limit > 0)
        {
            var page = matching.Where(h => h.Entry.Id > m.AfterId).OrderBy(h => h.Entry.Id).Take((int)m.Limit + 1).ToList();
            list.More = page.Count > m.Limit;
            matching = page.Take((int)m.Limit);
        }
        foreach (var h in matching.ToList())
        {
            list.Entries.Add(ToMsg(h.Entry));
            if (m.Delete) Evict(h.Entry, DestroyReason.Deleted);
        }
        Sender.Tell(list);
    }

    private void OnDestroyMasqueraded(DestroyMasqueraded m)
    {
        int n = 0;
        var reason = m.HasIp ? DestroyReason.AddressRemoved : DestroyReason.InterfaceDown;
        foreach (var h in _holders.Values.ToList())
        {
            if (h.Entry.MasqueradeInterface != m.Interface || (m.HasIp && h.Entry.NatIp.Value != m.Ip)) continue;
            Evict(h.Entry, reason);
            n++;
        }
        Sender.Tell(new DestroyedCount { Count = n });
    }

    /// <summary>Asks the entities whose time may have run out; they answer with a later expiry or go.</summary>
    private void Sweep()
    {
        var now = _ctx.Clock.NowMs;
        while (_expiry.TryPeek(out var reply, out var at) && at <= now)
        {
            _expiry.Dequeue();
            if (!_holders.TryGetValue(reply, out var h) || h.CheckAtMs != at) continue; // a stale queue entry
            h.CheckAtMs = now + ExpireRetryMs;
            _holders[reply] = h;
            _expiry.Enqueue(reply, h.CheckAtMs);
            _ctx.ConntrackRegion.Tell(new Expire
            {
                Original = h.Entry.Original.ToMsg(), Reply = h.Entry.Reply.ToMsg(), State = h.Entry.State.ToMsg(),
                ConntrackId = h.Entry.Id, Pool = _id, MasqueradeInterface = h.Entry.MasqueradeInterface ?? "",
            }, Self);
        }
    }

    /// <summary>
    /// Is the tuple held by an entry whose time has not surely run out? The entity reports every expiry that moved by
    /// more than <see cref="ConntrackEntity.ReportSlackMs"/>, so a copy older than that by now is expired for certain:
    /// its tuple is free at once, as in the kernel.
    /// </summary>
    private bool HeldAndLive(in FiveTuple tuple)
    {
        if (!_holders.TryGetValue(tuple, out var h)) return false;
        if (!h.Verified || h.Entry.State.ExpiresMs + Conntrack.ConntrackEntity.ReportSlackMs > _ctx.Clock.NowMs) return true;
        Evict(h.Entry, DestroyReason.Expired);
        return false;
    }

    private void Evict(in ConntrackEntry e, DestroyReason reason)
    {
        _ctx.ConntrackRegion.Tell(new Evict { Original = e.Original.ToMsg(), Reason = (uint)reason });
        Free(e.Reply);
    }

    private void Free(FiveTuple reply)
    {
        if (!_holders.ContainsKey(reply)) return;
        Drop(reply);
        WriteReservationsNow();
        _unwritten++;
        PersistAsync(new Released { Reply = reply.ToMsg() }, _ => MaybeSnapshot());
    }

    private void Hold(in ConntrackEntry e)
    {
        if (!_holders.ContainsKey(e.Reply)) Interlocked.Increment(ref _ctx.Counters.Held);
        _holders[e.Reply] = new Holder { Entry = e, CheckAtMs = e.State.ExpiresMs, Verified = !_recovering, Journaled = e.State };
        _byOriginal[e.Original] = e.Reply;
        _expiry.Enqueue(e.Reply, e.State.ExpiresMs);
        _gate.Made(e, _holders.Count);
    }

    private bool TryHeld(in FiveTuple reply, out ConntrackEntry entry)
    {
        bool found = _holders.TryGetValue(reply, out var h);
        entry = h.Entry;
        return found;
    }

    private void Drop(FiveTuple reply)
    {
        if (!_holders.Remove(reply, out var h)) return;
        _byOriginal.Remove(h.Entry.Original);
        Interlocked.Decrement(ref _ctx.Counters.Held);
    }

    /// <summary>Events handed to the journal whose write has not completed yet.</summary>
    private int _unwritten;

    /// <summary>
    /// Called as each write completes. A snapshot is taken only when every reservation so far is durable: its sequence number
    /// then never runs ahead of the journal, so a snapshot that lands late (written just before this node froze) can
    /// never hide the events of the incarnation that replaced it (replay starts after the snapshot's number).
    /// </summary>
    private void MaybeSnapshot()
    {
        _unwritten--;
        if (_stopWhenWritten && _unwritten == 0 && !_writing)
        {
            Context.Stop(Self); // handed off: the last write in flight has landed
            return;
        }
        // Nothing in flight and nothing held waiting for its write (group commit): the snapshot is exactly the journal.
        if (++_sinceSnapshot < SnapshotEvery || _unwritten > 0 || _waitingForWrite.Count > 0 || !_ctx.Fence.MayAct) return; // a fenced pool's snapshot could be stale
        _sinceSnapshot = 0;
        var list = new EntryList { NowMs = _ctx.Clock.NowMs };
        foreach (var h in _holders.Values) list.Entries.Add(ToMsg(h.Entry));
        SaveSnapshot(list);
    }

    private Entry ToMsg(in ConntrackEntry e) => new()
    {
        Id = e.Id, Original = e.Original.ToMsg(), Reply = e.Reply.ToMsg(), State = e.State.ToMsg(),
        MasqueradeInterface = e.MasqueradeInterface ?? "", Node = _ctx.NodeName,
    };

    private void RegisterSource(in ConntrackEntry e) =>
        _ctx.SourceRegion.Tell(new RegisterSource
        {
            Bucket = Keys.SourceBucket(e.Original.Proto, e.Original.Src, e.Original.Key, _ctx.Options.SourceBuckets),
            Proto = (uint)e.Original.Proto, Client = e.Original.Src.Value, ClientPort = e.Original.Key,
            Mapping = new SourceMapping { Ip = e.NatIp.Value, Port = e.NatPort, ConntrackId = e.Id },
        });

    /// <summary>The allocator's view of this pool: its holders, and the bysource candidates the index attached.</summary>
    private readonly struct PoolSpace(PortPoolEntity pool, IReadOnlyList<SourceMapping> candidates) : ITupleSpace
    {
        public bool IsTaken(in FiveTuple tuple) =>
            tuple.Dst != pool._ip || pool.HeldAndLive(tuple); // never hand out a tuple another pool owns

        public bool TryEvictForSyn(in FiveTuple reply, uint synSeqEnd)
        {
            if (!pool._holders.TryGetValue(reply, out var h)) return false;
            var s = h.Entry.State;
            if (s.Proto != Protocol.Tcp || s.Tcp is not (TcpState.TimeWait or TcpState.Close)) return false;
            if ((s.Status & ConnStatus.SrcNat) == 0 || (int)(synSeqEnd - s.OrigSeqEnd) <= 0) return false;
            pool.Evict(h.Entry, DestroyReason.Evicted);
            return true;
        }

        public bool TryFindBySource(Protocol proto, IPv4 client, ushort clientPort, in ActorNat.Core.Nat.NatRange range, out IPv4 natIp, out ushort natPort)
        {
            foreach (var c in candidates)
            {
                var ip = new IPv4(c.Ip);
                if (!range.Contains(ip, (ushort)c.Port)) continue;
                natIp = ip;
                natPort = (ushort)c.Port;
                return true;
            }
            natIp = default;
            natPort = 0;
            return false;
        }
    }

    public static Props Props(NatNodeContext ctx, string id) => Akka.Actor.Props.Create(() => new PortPoolEntity(ctx, id));
}
