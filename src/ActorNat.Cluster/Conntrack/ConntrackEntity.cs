using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Persistence;
using ActorNat.Cluster.Messages;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using CoreState = ActorNat.Core.Conntrack.ConnState;
using CorePacket = ActorNat.Core.Engine.Packet;
using CoreVerdict = ActorNat.Core.Engine.Verdict;

namespace ActorNat.Cluster.Conntrack;

/// <summary>
/// One connection's conntrack entry, sharded by its symmetric key. A thin shell over Core: the router snapshot
/// decides, the pool allocates, <see cref="ConnTracker"/> moves the state; this actor only orders those steps,
/// makes the mapping durable (event <c>Created</c>) before the first verdict, and keeps its pool informed (the pool
/// holds the expiry timers and serves listings).
/// </summary>
public sealed class ConntrackEntity : ReceivePersistentActor
{
    private readonly NatNodeContext _ctx;
    private readonly string _entityId;
    private bool _exists;
    private ConntrackEntry _entry;
    private string _pool = "";
    private CoreState _poolKnows;
    private IActorRef? _waiting;
    private CorePacket _first;

    public ConntrackEntity(NatNodeContext ctx, string entityId)
    {
        _ctx = ctx;
        _entityId = entityId;
        Recover<Created>(Apply);
        Recover<StateChanged>(c =>
        {
            _entry.State = c.State.ToCore();
            _journaledExpiresMs = _entry.State.ExpiresMs;
        });
        Command<EntityPacket>(OnPacket);
        Command<Expire>(OnExpire);
        Command<Evict>(e => { if (_exists) Destroy((DestroyReason)e.Reason, tellPool: true); });
        Command<StopEntity>(_ => Context.Stop(Self));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
    }

    public override string PersistenceId => "ct-" + _entityId;

    /// <summary>The pool's copy of the expiry is never more than this much earlier than the entity's own.</summary>
    public const long ReportSlackMs = 1000;

    protected override void PreStart()
    {
        _ctx.ActivationObserver?.Invoke(_ctx.NodeName, PersistenceId, true);
        base.PreStart();
    }

    protected override void PostStop()
    {
        _ctx.ActivationObserver?.Invoke(_ctx.NodeName, PersistenceId, false);
        base.PostStop();
    }

    private long _journaledExpiresMs;

    private void Apply(Created c)
    {
        _exists = true;
        _pool = c.Pool;
        _entry = new ConntrackEntry
        {
            Id = c.ConntrackId, Original = c.Original.ToCore(), Reply = c.Reply.ToCore(), State = c.State.ToCore(),
            MasqueradeInterface = c.MasqueradeInterface.Length == 0 ? null : c.MasqueradeInterface,
        };
        _poolKnows = _entry.State;
        _journaledExpiresMs = _entry.State.ExpiresMs;
    }

    private void OnPacket(EntityPacket m) => Handle(m, Sender);

    private IActorRef _replyTo = ActorRefs.Nobody;

    private void Handle(EntityPacket m, IActorRef replyTo)
    {
        _replyTo = replyTo;
        var packet = m.Packet.ToCore();
        var now = _ctx.Clock.NowMs;
        if (!_exists || _entry.State.IsExpired(now))
        {
            if (_exists) Destroy(DestroyReason.Expired, tellPool: true);
            if (m.Direction == (uint)Direction.Reply)
            {
                // The pool forwarded an answer for an entry that is gone: it was stale; nothing to translate.
                Reply(CoreVerdict.Dropped(DropReason.Invalid, packet.Tuple));
                return;
            }
            Open(packet, now);
            return;
        }

        Direction dir;
        if (m.Direction == (uint)Direction.Reply || packet.Tuple == _entry.Reply) dir = Direction.Reply;
        else if (packet.Tuple == _entry.Original) dir = Direction.Original;
        else
        {
            // Another connection whose tuple is this one's inverse: one entity holds one connection.
            Interlocked.Increment(ref _ctx.Counters.Invalid);
            Reply(CoreVerdict.Dropped(DropReason.Invalid, packet.Tuple));
            return;
        }

        var before = _entry.State;
        var outcome = ConnTracker.Update(ref _entry.State, dir, packet.Flags, packet.SeqEnd, now, _ctx.Timeouts);
        switch (outcome)
        {
            case PacketOutcome.Invalid:
                _entry.State = before;
                Interlocked.Increment(ref _ctx.Counters.Invalid);
                Reply(CoreVerdict.Dropped(DropReason.Invalid, packet.Tuple));
                return;
            case PacketOutcome.Kill:
                Reply(Rewrite(dir, packet.Tuple));
                Destroy(DestroyReason.Killed, tellPool: true);
                return;
            case PacketOutcome.Reopen:
                Destroy(DestroyReason.Reopened, tellPool: true);
                Open(packet, now);
                return;
        }
        Reply(Rewrite(dir, packet.Tuple));
        bool changed = before.Tcp != _entry.State.Tcp || before.Status != _entry.State.Status;
        // Journal a state change, and a refresh once the journaled expiry is more than half a timeout behind, so a
        // new incarnation (after passivation or a node's loss) does not take a busy connection for an expired one.
        if (changed || _entry.State.ExpiresMs - _journaledExpiresMs > (_entry.State.ExpiresMs - now) / 2)
        {
            _journaledExpiresMs = _entry.State.ExpiresMs;
            PersistAsync(new StateChanged { State = _entry.State.ToMsg() }, _ => { });
        }
        // The pool's copy decides expiry and eviction: tell it when the state changed or the expiry moved on.
        if (changed || _entry.State.ExpiresMs > _poolKnows.ExpiresMs + ReportSlackMs || _entry.State.ExpiresMs < _poolKnows.ExpiresMs)
            TellPool();
    }

    /// <summary>A new connection: decide (router snapshot), allocate (bysource index, then pool), persist, answer.</summary>
    private void Open(CorePacket packet, long now)
    {
        var tuple = packet.Tuple;
        if (ConnTracker.Start(out var state, tuple.Proto, packet.Flags, packet.SeqEnd, now, _ctx.Timeouts) == PacketOutcome.Invalid)
        {
            Interlocked.Increment(ref _ctx.Counters.Invalid);
            Reply(CoreVerdict.Dropped(DropReason.Invalid, tuple));
            return;
        }
        var decision = _ctx.Config.Current.Decide(tuple);
        if (decision.Kind == DecisionKind.Drop)
        {
            Interlocked.Increment(ref _ctx.Counters.Drop);
            Reply(CoreVerdict.Dropped(decision.Reason, tuple));
            return;
        }
        bool syn = tuple.Proto == Protocol.Tcp && state.Tcp == TcpState.SynSent;
        var id = (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        var allocate = new Allocate
        {
            Original = tuple.ToMsg(), Range = decision.Range.ToMsg(), TcpSyn = syn, SynSeqEnd = packet.SeqEnd,
            State = state.ToMsg(), ConntrackId = id, MasqueradeInterface = decision.Masquerade ? decision.OutInterface : "",
        };
        _ctx.SourceRegion.Tell(new LookupThenAllocate
        {
            Bucket = Keys.SourceBucket(tuple.Proto, tuple.Src, tuple.Key, _ctx.Options.SourceBuckets), Allocate = allocate,
        });
        _waiting = _replyTo;
        _first = packet;
        _pending = allocate;
        BecomeStacked(Allocating);
    }

    private void Allocating()
    {
        Command<Allocated>(OnAllocated);
        Command<ReceiveTimeout>(_ => { });
        CommandAny(_ => Stash.Stash());
    }

    private void OnAllocated(Allocated a)
    {
        var tuple = _first.Tuple;
        Interlocked.Add(ref _ctx.Counters.Found, a.Collisions);
        if (!a.Ok)
        {
            Interlocked.Increment(ref _ctx.Counters.InsertFailed);
            Interlocked.Increment(ref _ctx.Counters.Drop);
            _waiting.Tell(CoreVerdict.Dropped(DropReason.PortsExhausted, tuple).ToMsg());
            Done();
            return;
        }
        var ip = new IPv4(a.Ip);
        var port = (ushort)a.Port;
        var reply = PortAllocator.ReplyFor(tuple, ip, port);
        var pool = Keys.PoolOfReply(reply, _ctx.Options.PoolBuckets);
        if (a.Existing)
        {
            // This connection already has an entry (the pool's durable reservation): carry on with it.
            Apply(new Created
            {
                ConntrackId = a.ConntrackId, Original = tuple.ToMsg(), Reply = reply.ToMsg(), State = a.State, Pool = pool,
                MasqueradeInterface = _pending!.MasqueradeInterface,
            });
            PersistAsync(new Created
            {
                ConntrackId = a.ConntrackId, Original = tuple.ToMsg(), Reply = reply.ToMsg(), State = a.State, Pool = pool,
                MasqueradeInterface = _pending.MasqueradeInterface,
            }, _ => { });
            var replyTo = _waiting!;
            UnbecomeStacked();
            _waiting = null;
            _pending = null;
            Handle(new EntityPacket { Original = tuple.ToMsg(), Direction = 0, Packet = _first.ToMsg() }, replyTo); // first, then those that waited
            Stash.UnstashAll();
            return;
        }
        ConnTracker.Start(out var state, tuple.Proto, _first.Flags, _first.SeqEnd, _ctx.Clock.NowMs, _ctx.Timeouts);
        if (ip != tuple.Src || port != tuple.Key) state.Status |= ConnStatus.SrcNat;
        // The id the pool reserved under is kept in the event, so the holder and the entity agree.
        var created = new Created
        {
            ConntrackId = _pending!.ConntrackId, Original = tuple.ToMsg(), Reply = reply.ToMsg(), State = state.ToMsg(),
            Pool = pool, MasqueradeInterface = _pending.MasqueradeInterface,
        };
        // The mapping is durable already (the pool persisted its reservation before answering); this entity's own
        // journal only saves the next incarnation a round trip, so its write does not hold the verdict.
        Apply(created);
        PersistAsync(created, _ => { });
        Interlocked.Increment(ref _ctx.Counters.Insert);
        _ctx.EntryEvent?.Invoke(_entry, null);
        var kind = _entry.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
        _waiting.Tell(new CoreVerdict(kind, DropReason.None, tuple.WithSource(ip, port), Direction.Original, _entry.Id, true).ToMsg());
        _ctx.SourceRegion.Tell(new RegisterSource
        {
            Bucket = Keys.SourceBucket(tuple.Proto, tuple.Src, tuple.Key, _ctx.Options.SourceBuckets),
            Proto = (uint)tuple.Proto, Client = tuple.Src.Value, ClientPort = tuple.Key,
            Mapping = new SourceMapping { Ip = ip.Value, Port = port, ConntrackId = _entry.Id },
        });
        Done();
    }

    private Allocate? _pending;

    private void Done()
    {
        _waiting = null;
        _pending = null;
        UnbecomeStacked();
        Stash.UnstashAll();
    }

    private void OnExpire(Expire m)
    {
        var now = _ctx.Clock.NowMs;
        var poolCopy = m.State?.ToCore();
        if (!_exists && m.Reply is not null && poolCopy is { } copy && !copy.IsExpired(now))
        {
            // This incarnation lost its memory (its node died before its journal write): the pool's durable copy of
            // the mapping is the truth; carry on with it.
            var created = new Created
            {
                ConntrackId = m.ConntrackId, Original = m.Original, Reply = m.Reply, State = m.State, Pool = m.Pool,
                MasqueradeInterface = m.MasqueradeInterface,
            };
            Apply(created);
            PersistAsync(created, _ => { });
        }
        if (!_exists)
        {
            // Nothing here, and the pool's copy has run out too: the pool frees the holder it asked about.
            Sender.Tell(new EntryGone { Original = m.Original });
            return;
        }
        // The later of the two expiries: neither this incarnation's journal nor the pool's copy has every refresh.
        if (poolCopy is { } p && p.ExpiresMs > _entry.State.ExpiresMs && p.Tcp == _entry.State.Tcp) _entry.State.ExpiresMs = p.ExpiresMs;
        if (_entry.State.IsExpired(now)) Destroy(DestroyReason.Expired, tellPool: true);
        else TellPool();
    }

    private void Destroy(DestroyReason reason, bool tellPool)
    {
        var e = _entry;
        _exists = false;
        _entry = default;
        Interlocked.Increment(ref _ctx.Counters.Destroyed);
        _ctx.EntryEvent?.Invoke(e, reason);
        if (tellPool)
            _ctx.PoolRegion.Tell(new Release { Pool = _pool, Reply = e.Reply.ToMsg(), ConntrackId = e.Id, Reason = (uint)reason });
        _ctx.SourceRegion.Tell(new UnregisterSource
        {
            Bucket = Keys.SourceBucket(e.Original.Proto, e.Original.Src, e.Original.Key, _ctx.Options.SourceBuckets),
            Proto = (uint)e.Original.Proto, Client = e.Original.Src.Value, ClientPort = e.Original.Key, ConntrackId = e.Id,
        });
        DeleteMessages(LastSequenceNr);
    }

    private void TellPool()
    {
        _poolKnows = _entry.State;
        _ctx.PoolRegion.Tell(new HolderUpdate { Pool = _pool, Reply = _entry.Reply.ToMsg(), State = _entry.State.ToMsg() });
    }

    private CoreVerdict Rewrite(Direction dir, in FiveTuple tuple)
    {
        var kind = _entry.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
        var rewritten = dir == Direction.Original
            ? tuple.WithSource(_entry.NatIp, _entry.NatPort)
            : tuple.WithDestination(_entry.Original.Src, _entry.Original.Key);
        return new CoreVerdict(kind, DropReason.None, rewritten, dir, _entry.Id, false);
    }

    private void Reply(in CoreVerdict v) => _replyTo.Tell(v.ToMsg());

    public static Props Props(NatNodeContext ctx, string entityId) => Akka.Actor.Props.Create(() => new ConntrackEntity(ctx, entityId));
}
