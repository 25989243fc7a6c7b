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
    private readonly PoolState _state;
    private readonly SeededRandom _random;
    private int _sinceSnapshot;
    /// <summary>Entries journaled since the last snapshot (a batch counts each of its reservations).</summary>
    private long _entriesSinceSnapshot;
    private readonly Limits.PoolGate _gate; // nf_conntrack_max: early drop or table-full
    private int _heldReported;

    public PortPoolEntity(NatNodeContext ctx, string id)
    {
        _ctx = ctx;
        _id = id;
        _state = new PoolState(Keys.PoolAddress(id));
        _random = new SeededRandom(ctx.Options.Seed ^ SnatHash.JHash2((uint)id.GetHashCode(), (uint)id.Length, 0, 0, 7));
        _gate = new Limits.PoolGate(ctx, TryHeld, () => _state.Holders.Select(h => h.Entry), e => Evict(e, DestroyReason.EarlyDrop));

        Recover<SnapshotOffer>(o =>
        {
            if (o.Snapshot is EntryList list) _state.Apply(list);
        });
        Recover<Reserved>(_state.Apply);
        Recover<ReservedBatch>(_state.Apply);
        Recover<Released>(_state.Apply);
        Recover<HolderUpdate>(_state.Apply);
        Recover<RecoveryCompleted>(_ => OnRecovered());

        // Nothing that changes the pool runs while the node is fenced: another incarnation may be acting for it.
        Command<Allocate>(Fenced<Allocate>(OnAllocate));
        Command<PoolAllocateBatch>(Fenced<PoolAllocateBatch>(OnAllocateBatch));
        Command<PoolPacket>(OnPacket);
        Command<HolderUpdate>(Fenced<HolderUpdate>(OnUpdate));
        Command<Release>(Fenced<Release>(r =>
        {
            var reply = r.Reply.ToCore();
            if (_state.TryGet(reply, out var h) && h.Entry.Id == r.ConntrackId) Free(reply);
        }));
        Command<EntryGone>(Fenced<EntryGone>(g =>
        {
            if (_state.TryReplyOf(g.Original.ToCore(), out var reply)) Free(reply);
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

    /// <summary>The held-entries gauge follows the state after every message (recovery, commands, write callbacks).</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        if (_state.Count != _heldReported)
        {
            Interlocked.Add(ref _ctx.Counters.Held, _state.Count - _heldReported);
            _heldReported = _state.Count;
        }
        return handled;
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

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _ctx.ActivationObserver?.Invoke(_ctx.NodeName, PersistenceId, true);
        base.PreStart();
    }

    protected override void PostStop()
    {
        Interlocked.Add(ref _ctx.Counters.Held, -_heldReported); // moved or stopped: no longer held here
        _heldReported = 0;
        _ctx.ActivationObserver?.Invoke(_ctx.NodeName, PersistenceId, false);
        base.PostStop();
    }

    private void OnRecovered()
    {
        _state.Recovered(_ctx.Clock.NowMs, _ctx.Timeouts);
        // Rebuild the (volatile) bysource index from what this pool holds.
        foreach (var h in _state.Holders) RegisterSource(h.Entry);
        Timers.StartPeriodicTimer("sweep", Tick.Instance, _ctx.Options.SweepInterval);
        _ctx.RecoveryObserver?.Invoke(_ctx.NodeName, PersistenceId); // failover timelines (chaos)
    }

    /// <summary>Entries the state released while deciding a command (expired copies, TIME_WAIT holders a SYN took over).</summary>
    private readonly List<(ConntrackEntry Entry, DestroyReason Reason)> _released = [];

    /// <summary>Each released entry: its entity is told, and the release journaled (after the reservations waiting).</summary>
    private void JournalReleased()
    {
        foreach (var (e, reason) in _released)
        {
            _ctx.ConntrackRegion.Tell(new Evict { Original = e.Original.ToMsg(), Reason = (uint)reason, ConntrackId = e.Id });
            UnregisterSource(e);
            JournalRelease(e.Reply);
        }
        _released.Clear();
    }

    private void OnAllocate(Allocate m)
    {
        var original = m.Original.ToCore();
        var now = _ctx.Clock.NowMs;
        bool repeated = _state.TryHeldByOriginal(original, now, _released, out var held);
        JournalReleased();
        if (repeated)
        {
            // The same connection asks again: answer with the mapping it has, once its reservation is durable.
            if (m.AnswerVerdict)
            {
                // Not a first packet after all: its entity moves the entry on, once the reservation is durable.
                var onward = new EntityPacket { Original = m.Original, Direction = 0, Packet = m.Packet, Holder = held.ToMsg(_ctx.NodeName), RequestId = m.RequestId };
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
        var a = _state.Allocate(m.Phase, original, range, m.TcpSyn, m.SynSeqEnd, m.Candidates, _random, now, _released);
        JournalReleased();
        if (m.Phase == 1 && !a.Succeeded)
        {
            // Step 1 failed at the candidate's address: steps 2-4 belong to the pool of the hashed address.
            var next = m.Clone();
            next.Phase = 2;
            next.Pool = Keys.PoolFor(original, SnatHash.Pick(range, original.Src, original.Dst), _ctx.Options.PoolBuckets);
            _ctx.PoolRegion.Forward(next);
            return;
        }
        if (!a.Succeeded || a.Ip != _state.Ip)
        {
            if (m.AnswerVerdict) AnswerExhausted(original, a.Collisions, m.RequestId);
            else Sender.Tell(new Allocated { Ok = false, Collisions = a.Collisions });
            return;
        }
        var state = m.State.ToCore();
        if (a.Ip != original.Src || a.Port != original.Key) state.Status |= ConnStatus.SrcNat;
        var reservation = new Reserved
        {
            Original = m.Original, Reply = PortAllocator.ReplyFor(original, a.Ip, a.Port).ToMsg(), State = state.ToMsg(),
            ConntrackId = m.ConntrackId, MasqueradeInterface = m.MasqueradeInterface,
        };
        _state.Apply(reservation); // taken at once, so allocations behind this one see it before the write completes
        if (m.AnswerVerdict)
        {
            _state.TryGet(reservation.Reply.ToCore(), out var h);
            Created(h.Entry, a.Collisions);
            var kind = h.Entry.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
            var verdict = new CoreVerdict(kind, DropReason.None, original.WithSource(a.Ip, a.Port), Direction.Original, m.ConntrackId, true).ToMsg();
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
        _ctx.Messenger.Reply(Sender, verdict, Self);
    }

    /// <summary>
    /// Answers an allocation once its reservation is durable. Group commit: while one write of reservations is in
    /// flight, the next ones wait here and go as one event (one journal row) when it completes, so the journal's cost
    /// per new flow falls as the load rises, and an idle pool writes at once. A repeated allocation (no event) is
    /// answered with the next write, since the reservation it repeats may be waiting here too.
    /// </summary>
    private void Acknowledge(Reserved? reservation, IActorRef to, object answer) =>
        Acknowledge(reservation, () => _ctx.Messenger.Reply(to, answer, Self)); // on another node: with that node's other answers

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
            MaybeSnapshot(events.Count);
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
        _ctx.ConntrackRegion.Forward(_state.TryGet(tuple, out var h)
            ? new EntityPacket { Original = h.Entry.Original.ToMsg(), Direction = (uint)Direction.Reply, Packet = m.Packet, Holder = h.Entry.ToMsg(_ctx.NodeName), RequestId = m.RequestId }
            : new EntityPacket { Original = tuple.ToMsg(), Direction = (uint)Direction.Original, Packet = m.Packet, RequestId = m.RequestId });
    }

    private void OnUpdate(HolderUpdate m)
    {
        if (_ctx.LoseAtPool?.Invoke(m) == true) return;
        var ack = new HolderUpdateAck { Reply = m.Reply, Seq = m.Seq, Held = true };
        switch (_state.Refresh(m, _ctx.Clock.NowMs))
        {
            case PoolState.RefreshOutcome.NotHeld:
                ack.Held = false; // freed here (expired, deleted, evicted): the entity must not go on with it
                Sender.Tell(ack);
                return;
            case PoolState.RefreshOutcome.Volatile:
                Sender.Tell(ack);
                return;
        }
        // Acknowledged once durable (the entity sends it again until then), and only by a node still entitled to act.
        _state.Apply(m);
        var sender = Sender;
        _unwritten++;
        PersistAsync(m, _ =>
        {
            if (_ctx.Fence.MayAct) sender.Tell(ack);
            MaybeSnapshot();
        });
    }

    private void OnList(ListEntries m)
    {
        var filter = m.Filter.ToCore();
        var list = new EntryList { NowMs = _ctx.Clock.NowMs };
        IEnumerable<PoolState.Holder> matching = _state.Holders.Where(h => filter.Matches(h.Entry));
        if (m.Limit > 0)
        {
            var page = matching.Where(h => h.Entry.Id > m.AfterId).OrderBy(h => h.Entry.Id).Take((int)m.Limit + 1).ToList();
            list.More = page.Count > m.Limit;
            matching = page.Take((int)m.Limit);
        }
        foreach (var h in matching.ToList())
        {
            list.Entries.Add(h.Entry.ToMsg(_ctx.NodeName));
            if (m.Delete) Evict(h.Entry, DestroyReason.Deleted);
        }
        Sender.Tell(list);
    }

    private void OnDestroyMasqueraded(DestroyMasqueraded m)
    {
        var reason = m.HasIp ? DestroyReason.AddressRemoved : DestroyReason.InterfaceDown;
        var gone = _state.ReleaseMasqueraded(m.Interface, m.HasIp ? new IPv4(m.Ip) : null);
        foreach (var e in gone) _released.Add((e, reason));
        JournalReleased();
        Sender.Tell(new DestroyedCount { Count = gone.Count });
    }

    /// <summary>Asks the entities whose time may have run out; they answer with a later expiry or go.</summary>
    private void Sweep()
    {
        foreach (var e in _state.Due(_ctx.Clock.NowMs, ExpireRetryMs))
            _ctx.ConntrackRegion.Tell(new Expire
            {
                Original = e.Original.ToMsg(), Reply = e.Reply.ToMsg(), State = e.State.ToMsg(),
                ConntrackId = e.Id, Pool = _id, MasqueradeInterface = e.MasqueradeInterface ?? "",
            }, Self);
    }

    private void Evict(in ConntrackEntry e, DestroyReason reason)
    {
        _ctx.ConntrackRegion.Tell(new Evict { Original = e.Original.ToMsg(), Reason = (uint)reason, ConntrackId = e.Id });
        UnregisterSource(e);
        Free(e.Reply);
    }

    private void Free(FiveTuple reply)
    {
        if (_state.Release(reply, out _)) JournalRelease(reply);
    }

    /// <summary>A release, journaled after every reservation still waiting (<see cref="WriteReservationsNow"/>).</summary>
    private void JournalRelease(FiveTuple reply)
    {
        WriteReservationsNow();
        _unwritten++;
        PersistAsync(new Released { Reply = reply.ToMsg() }, _ => MaybeSnapshot());
    }

    private bool TryHeld(in FiveTuple reply, out ConntrackEntry entry)
    {
        bool found = _state.TryGet(reply, out var h);
        entry = h.Entry;
        return found;
    }

    /// <summary>Events handed to the journal whose write has not completed yet.</summary>
    private int _unwritten;

    /// <summary>
    /// Called as each write completes. A snapshot is taken only when every reservation so far is durable: its sequence number
    /// then never runs ahead of the journal, so a snapshot that lands late (written just before this node froze) can
    /// never hide the events of the incarnation that replaced it (replay starts after the snapshot's number).
    /// </summary>
    private void MaybeSnapshot(int entries = 1)
    {
        _entriesSinceSnapshot += entries;
        _unwritten--;
        if (_stopWhenWritten && _unwritten == 0 && !_writing)
        {
            Context.Stop(Self); // handed off: the last write in flight has landed
            return;
        }
        // Nothing in flight and nothing held waiting for its write (group commit): the snapshot is exactly the journal.
        // At least as many entries journaled since the last snapshot as the pool holds: a snapshot writes every entry
        // held, so taking one every 1000 events (of ~3 reservations each under load) serialized ~3 entries per new flow
        // once pools held ~18k, with a 1-2 MB row each time; this way at most one per entry journaled, and recovery
        // still replays no more entries than the snapshot holds.
        if (++_sinceSnapshot < SnapshotEvery || _entriesSinceSnapshot < _state.Count || _unwritten > 0 || _waitingForWrite.Count > 0 || !_ctx.Fence.MayAct) return; // a fenced pool's snapshot could be stale
        _sinceSnapshot = 0;
        _entriesSinceSnapshot = 0;
        SaveSnapshot(_state.Snapshot(_ctx.Clock.NowMs, _ctx.NodeName));
    }

    private void RegisterSource(in ConntrackEntry e) =>
        _ctx.Messenger.ToEntity(new RegisterSource
        {
            Bucket = Keys.SourceBucket(e.Original.Proto, e.Original.Src, e.Original.Key, _ctx.Options.SourceBuckets),
            Proto = (uint)e.Original.Proto, Client = e.Original.Src.Value, ClientPort = e.Original.Key,
            Mapping = new SourceMapping { Ip = e.NatIp.Value, Port = e.NatPort, ConntrackId = e.Id },
        }, Self);

    /// <summary>
    /// A freed entry leaves the bysource table, as the kernel's does when a conntrack goes (nf_nat_cleanup_conntrack),
    /// whether or not its entity ever ran: an entry the pool answered on its own (first-packet path) has no entity to do
    /// it. An entity that held the entry unregisters too; the index takes the second one as a no-op.
    /// </summary>
    private void UnregisterSource(in ConntrackEntry e) =>
        _ctx.Messenger.ToEntity(new UnregisterSource
        {
            Bucket = Keys.SourceBucket(e.Original.Proto, e.Original.Src, e.Original.Key, _ctx.Options.SourceBuckets),
            Proto = (uint)e.Original.Proto, Client = e.Original.Src.Value, ClientPort = e.Original.Key, ConntrackId = e.Id,
        }, Self);

    public static Props Props(NatNodeContext ctx, string id) => Akka.Actor.Props.Create(() => new PortPoolEntity(ctx, id));
}
