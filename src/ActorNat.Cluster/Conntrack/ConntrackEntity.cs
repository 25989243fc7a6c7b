using Akka.Actor;
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
/// decides, the pool allocates, <see cref="ConnTracker"/> moves the state; this actor orders those steps and keeps its
/// pool informed. It keeps nothing durable itself: the pool that owns the reply tuple journals the entry (reservation,
/// state changes) and is its memory. An incarnation that starts without the entry (after passivation, or after its
/// node's loss) gets it back from the pool: with an answer the pool forwards, with the pool's expiry check, or, for a
/// client's packet, by asking to allocate again, which the pool answers with the entry it holds.
/// </summary>
public sealed partial class ConntrackEntity : UntypedActor, IWithUnboundedStash, IWithTimers
{
    /// <summary>The pool's copy of the expiry is never more than this much earlier than the entity's own.</summary>
    public const long ReportSlackMs = 1000;

    /// <summary>
    /// An expiry that moved on by more than this is reported to the pool: the slack, less what a leased copy may carry
    /// the expiry beyond this entity's (<see cref="Ingress.FlowCache.WindowMs"/>) once the entry is leased.
    /// </summary>
    private long ReportAfterMs => HasLeases ? ReportSlackMs - Ingress.FlowCache.WindowMs : ReportSlackMs;

    private readonly NatNodeContext _ctx;
    private readonly string _name;
    private bool _exists;
    private ConntrackEntry _entry;
    private string _pool = "";
    private CoreState _poolKnows;
    private IActorRef _replyTo = ActorRefs.Nobody;
    private uint _replyId; // the request id to echo: one reply target may serve a whole batch
    private static readonly TimeSpan UpdateRetry = TimeSpan.FromMilliseconds(500);
    private const int UpdateAttempts = 10;
    private HolderUpdate? _unacked; // the newest update the pool has not acknowledged; sent again until it does
    private ulong _updateSeq;
    private int _updateAttempts;
    private bool _stopping;

    public ConntrackEntity(NatNodeContext ctx, string entityId)
    {
        _ctx = ctx;
        _name = "ct-" + entityId;
    }

    // An untyped actor: one is created per new flow, and a ReceiveActor builds its handlers per instance and per Become.
    protected override void OnReceive(object message) => Active(message);

    private void Active(object message) => Dispatch(message, Sender);

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => _ctx.ActivationObserver?.Invoke(_ctx.NodeName, _name, true);

    protected override void PostStop() => _ctx.ActivationObserver?.Invoke(_ctx.NodeName, _name, false);

    /// <summary>Takes on an entry: just allocated, or the pool's durable copy.</summary>
    private void Adopt(in ConntrackEntry e, string pool)
    {
        _exists = true;
        _pool = pool;
        _entry = e;
        _poolKnows = e.State;
    }

    /// <summary>
    /// A node that has not yet heard the cluster's configuration (just started, just joined) must not move an entry on:
    /// its timeouts are still the defaults. The packet comes back here a moment later (its caller waits up to 2 s).
    /// </summary>
    private bool NotConfigured(object message, IActorRef sender)
    {
        if (_ctx.Config.Loaded) return false;
        Context.System.Scheduler.ScheduleTellOnce(ConfigWait, Self, message, sender);
        return true;
    }

    private static readonly TimeSpan ConfigWait = TimeSpan.FromMilliseconds(100);

    private void Handle(EntityPacket m, IActorRef replyTo)
    {
        if (NotConfigured(m, replyTo)) return;
        _replyTo = replyTo;
        _replyId = m.RequestId;
        var packet = m.Packet.ToCore();
        var now = _ctx.Clock.NowMs;
        if (!_exists && m.Holder is { } holder)
            Adopt(holder.ToCore(), Keys.PoolOfReply(holder.Reply.ToCore(), _ctx.Options.PoolBuckets));
        if (IcmpErrors.Classify(packet, out var quoted) == TrackStep.Related)
        {
            Related(packet, quoted, m.Direction == (uint)Direction.Reply, now);
            return;
        }
        if (!_exists || _entry.State.IsExpired(now))
        {
            if (_exists) Destroy(DestroyReason.Expired, tellPool: true);
            if (m.Direction == (uint)Direction.Reply)
            {
                // The pool forwarded an answer for an entry that is gone: nothing to translate.
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
        Reply(Rewrite(dir, packet.Tuple), Grant(replyTo, now));
        // The pool's copy decides expiry and eviction, and journals the changes that matter: tell it when the state
        // changed or the expiry moved on.
        bool changed = before.Tcp != _entry.State.Tcp || before.Status != _entry.State.Status;
        if (changed || _entry.State.ExpiresMs > _poolKnows.ExpiresMs + ReportAfterMs || _entry.State.ExpiresMs < _poolKnows.ExpiresMs)
            TellPool();
    }

    /// <summary>An ICMP error about this connection (Core decides the rewrites); never opens or refreshes an entry.</summary>
    private void Related(in CorePacket packet, in FiveTuple quoted, bool fromPool, long now)
    {
        if (_exists && _entry.State.IsExpired(now)) Destroy(DestroyReason.Expired, tellPool: true);
        if (_exists && (fromPool || quoted == _entry.Reply || quoted == _entry.Original)
            && IcmpErrors.TryTranslate(_entry, fromPool || quoted == _entry.Reply ? Direction.Reply : Direction.Original, packet, out var v))
        {
            Reply(v);
            return;
        }
        Interlocked.Increment(ref _ctx.Counters.Error);
        Reply(CoreVerdict.Untracked(packet.Tuple));
    }

    /// <summary>The entry's commands; one that may change the entry waits until its leased copies are back.</summary>
    private void Dispatch(object message, IActorRef sender)
    {
        if (HasLeases && ChangesEntry(message))
        {
            BeginRevoke(message, sender);
            return;
        }
        switch (message)
        {
            case EntityPacket m:
                Handle(m, sender);
                break;
            case LeaseRefresh r:
                OnLeaseRefresh(r, sender);
                break;
            case Expire e:
                OnExpire(e, sender);
                break;
            case Evict e:
                // The pool that evicts also takes the mapping out of the bysource index (it may have no entity).
                if (_exists) Destroy((DestroyReason)e.Reason, tellPool: true, unregister: false);
                LetGoIfEmpty();
                break;
            case LetGo:
                OnLetGo();
                break;
            case HolderUpdateAck a:
                OnUpdateAck(a);
                break;
            case ResendUpdate when _unacked is not null && _updateAttempts < UpdateAttempts:
                SendUpdate();
                break;
            case ResendUpdate:
                // No answer (a fenced or unreachable pool): the next packet that moves the entry reports it again.
                _unacked = null;
                _poolKnows = default;
                if (_stopping) Context.Stop(Self);
                break;
            case StopEntity:
                // Handed off or passivated: the pool's copy gets this entry's last state first (bounded by the attempts).
                if (_unacked is null) Context.Stop(Self);
                else _stopping = true;
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnExpire(Expire m, IActorRef sender)
    {
        if (NotConfigured(m, sender)) return;
        var now = _ctx.Clock.NowMs;
        var poolCopy = m.State?.ToCore();
        if (!_exists && m.Reply is not null && poolCopy is { } copy && !copy.IsExpired(now))
        {
            // This incarnation has no memory of the entry: the pool's durable copy is the truth; carry on with it.
            Adopt(new ConntrackEntry
            {
                Id = m.ConntrackId, Original = m.Original.ToCore(), Reply = m.Reply.ToCore(), State = copy,
                MasqueradeInterface = m.MasqueradeInterface.Length == 0 ? null : m.MasqueradeInterface,
            }, m.Pool);
        }
        if (!_exists)
        {
            // Nothing here, and the pool's copy has run out too: the pool frees the holder it asked about.
            sender.Tell(new EntryGone { Original = m.Original });
            return;
        }
        // The later of the two expiries: neither this incarnation nor the pool's copy has seen every refresh.
        if (poolCopy is { } p && p.ExpiresMs > _entry.State.ExpiresMs && p.Tcp == _entry.State.Tcp) _entry.State.ExpiresMs = p.ExpiresMs;
        if (_entry.State.IsExpired(now)) Destroy(DestroyReason.Expired, tellPool: true);
        else TellPool();
    }

    private void Destroy(DestroyReason reason, bool tellPool, bool unregister = true)
    {
        var e = _entry;
        _exists = false;
        _entry = default;
        _unacked = null; // the release supersedes it
        Timers.Cancel(ResendTimer);
        Interlocked.Increment(ref _ctx.Counters.Destroyed);
        _ctx.EntryEvent?.Invoke(e, reason);
        if (tellPool)
            _ctx.PoolRegion.Tell(new Release { Pool = _pool, Reply = e.Reply.ToMsg(), ConntrackId = e.Id, Reason = (uint)reason });
        if (!unregister) return;
        _ctx.SourceRegion.Tell(new UnregisterSource
        {
            Bucket = Keys.SourceBucket(e.Original.Proto, e.Original.Src, e.Original.Key, _ctx.Options.SourceBuckets),
            Proto = (uint)e.Original.Proto, Client = e.Original.Src.Value, ClientPort = e.Original.Key, ConntrackId = e.Id,
        });
    }

    /// <summary>
    /// Reports the entry's state to its pool, reliably: a region may drop a message while the pool's shard is handed
    /// off, and the pool's copy serves listings and expiry. The newest state replaces any unacknowledged one.
    /// </summary>
    private void TellPool()
    {
        _poolKnows = _entry.State;
        _unacked = new HolderUpdate { Pool = _pool, Reply = _entry.Reply.ToMsg(), State = _entry.State.ToMsg(), Seq = ++_updateSeq, ConntrackId = _entry.Id };
        _updateAttempts = 0;
        SendUpdate();
    }

    private void SendUpdate()
    {
        _updateAttempts++;
        _ctx.PoolRegion.Tell(_unacked, Self);
        Timers.StartSingleTimer(ResendTimer, ResendUpdate.Instance, UpdateRetry);
    }

    private void OnUpdateAck(HolderUpdateAck a)
    {
        if (_unacked is null || a.Seq != _unacked.Seq) return; // an older update's answer: the newest is on its way
        Timers.Cancel(ResendTimer);
        _unacked = null;
        // The pool has freed this entry (expired there, deleted, evicted): its reply tuple is no longer ours.
        if (!a.Held && _exists && a.Reply.ToCore() == _entry.Reply) Destroy(DestroyReason.Evicted, tellPool: false);
        if (_stopping) Context.Stop(Self);
    }

    private const string ResendTimer = "holder-update";

    private sealed class ResendUpdate : INoSerializationVerificationNeeded
    {
        public static readonly ResendUpdate Instance = new();
    }

    private CoreVerdict Rewrite(Direction dir, in FiveTuple tuple)
    {
        var kind = _entry.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
        var rewritten = dir == Direction.Original
            ? tuple.WithSource(_entry.NatIp, _entry.NatPort)
            : tuple.WithDestination(_entry.Original.Src, _entry.Original.Key);
        return new CoreVerdict(kind, DropReason.None, rewritten, dir, _entry.Id, false);
    }

    private void Reply(in CoreVerdict v, Lease? lease = null)
    {
        var answer = Answer(v, _replyId);
        answer.Lease = lease;
        _replyTo.Tell(answer);
    }

    private static Messages.Verdict Answer(in CoreVerdict v, uint requestId)
    {
        var m = v.ToMsg();
        m.RequestId = requestId;
        return m;
    }

    public static Props Props(NatNodeContext ctx, string entityId) => FactoryProducer<ConntrackEntity>.Props(() => new ConntrackEntity(ctx, entityId));
}
