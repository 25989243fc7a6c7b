using ActorNat.Cluster.Failover;
using Akka.Actor;
using ActorNat.Cluster.Messages;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using CorePacket = ActorNat.Core.Engine.Packet;
using CoreVerdict = ActorNat.Core.Engine.Verdict;

namespace ActorNat.Cluster.Conntrack;

/// <summary>Opening a connection: the decision with the node's router snapshot, and the allocation by the pool.</summary>
public sealed partial class ConntrackEntity
{
    private static readonly TimeSpan AllocationRetry = TimeSpan.FromSeconds(2);
    private const int AllocationAttempts = 5;
    private IActorRef? _waiting;
    private uint _waitingId;
    private CorePacket _first;
    private Allocate? _pending;
    private int _attempts;
    private long _allocationStarted;

    /// <summary>A new connection: decide (router snapshot), allocate (bysource index, then pool), answer.</summary>
    private void Open(CorePacket packet, long now)
    {
        var tuple = packet.Tuple;
        if (ConnTracker.Start(out var state, tuple, packet.Flags, packet.SeqEnd, now, _ctx.Timeouts) == PacketOutcome.Invalid)
        {
            Interlocked.Increment(ref _ctx.Counters.Invalid);
            Reply(CoreVerdict.InvalidNew(tuple));
            LetGoIfEmpty();
            return;
        }
        var decision = _ctx.Config.Current.Decide(tuple);
        if (decision.Kind == DecisionKind.Drop)
        {
            Interlocked.Increment(ref _ctx.Counters.Drop);
            Reply(CoreVerdict.Dropped(decision.Reason, tuple));
            LetGoIfEmpty();
            return;
        }
        bool syn = tuple.Proto == Protocol.Tcp && state.Tcp == TcpState.SynSent;
        var allocate = new Allocate
        {
            Original = tuple.ToMsg(), Range = decision.Range.ToMsg(), TcpSyn = syn, SynSeqEnd = packet.SeqEnd,
            State = state.ToMsg(), ConntrackId = (ulong)Random.Shared.NextInt64(1, long.MaxValue),
            MasqueradeInterface = decision.Masquerade ? decision.OutInterface : "",
        };
        _waiting = _replyTo;
        _waitingId = _replyId;
        _first = packet;
        _pending = allocate;
        _attempts = 0;
        _allocationStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        RequestAllocation();
        Context.Become(Allocating);
    }

    /// <summary>
    /// Asks (again) for the allocation. A message lost while a shard moves must not leave this entity waiting for
    /// ever; asking again is safe, since a pool answers a second request for the same tuple with what it holds.
    /// </summary>
    private void RequestAllocation()
    {
        var tuple = _first.Tuple;
        _attempts++;
        _ctx.SourceRegion.Tell(new LookupThenAllocate
        {
            Bucket = Keys.SourceBucket(tuple.Proto, tuple.Src, tuple.Key, _ctx.Options.SourceBuckets), Allocate = _pending,
        });
        // Sooner while shards move (FailoverWindow): a request lost to the lost node reaches the new home quickly, and
        // one sent before a member was downed is sent again as soon as it is (FailoverWindow.Generation), not 2 s later.
        _askedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        _askedGeneration = _ctx.Failover.Generation;
        Timers.StartSingleTimer("allocation", Tick.Instance, FailoverWindow.RetryEvery);
    }

    private long _askedAt, _askedGeneration;

    /// <summary>Time to ask again: the usual wait has passed, or a member was lost since the last ask.</summary>
    private bool AskAgainNow() =>
        _ctx.Failover.Generation != _askedGeneration
        || System.Diagnostics.Stopwatch.GetElapsedTime(_askedAt) >= _ctx.Failover.RetryAfter(AllocationRetry);

    private void Allocating(object message)
    {
        switch (message)
        {
            case Allocated a:
                OnAllocated(a);
                break;
            case Tick when System.Diagnostics.Stopwatch.GetElapsedTime(_allocationStarted) < AllocationRetry * AllocationAttempts:
                if (AskAgainNow()) RequestAllocation();
                else Timers.StartSingleTimer("allocation", Tick.Instance, FailoverWindow.RetryEvery);
                break;
            case Tick:
                // No pool answered: give up this packet (its caller has timed out); the next one starts afresh.
                Context.Become(Active);
                _waiting = null;
                _pending = null;
                Stash.UnstashAll();
                break;
            case StopEntity:
                // A shard hand-off must not wait for an allocation (it may wait on a pool that is moving too): stop
                // now. The callers ask again, and the pool answers the next incarnation with what it reserved, if anything.
                Context.Stop(Self);
                break;
            default:
                Stash.Stash();
                break;
        }
    }

    /// <summary>
    /// No entry here (refused, dropped, evicted): the actor goes a second later if nothing arrived meanwhile, rather
    /// than after the 2 min idle time, so a flood of new flows keeps no actor per flow beyond the table's limit. Not at
    /// once: a packet already on its way would start an allocation that the passivation's stop cuts short.
    /// </summary>
    private void LetGoIfEmpty()
    {
        if (!_exists && _waiting is null && !HasLeases) Timers.StartSingleTimer("let-go", LetGo.Instance, LetGoAfter);
    }

    private static readonly TimeSpan LetGoAfter = TimeSpan.FromSeconds(1);

    private void OnLetGo()
    {
        if (!_exists && _waiting is null && !HasLeases) Context.Parent.Tell(new Akka.Cluster.Sharding.Passivate(StopEntity.Instance));
    }

    private sealed class LetGo : INoSerializationVerificationNeeded
    {
        public static readonly LetGo Instance = new();
    }

    private void OnAllocated(Allocated a)
    {
        var tuple = _first.Tuple;
        var replyTo = _waiting!;
        var pending = _pending!;
        Timers.Cancel("allocation");
        Context.Become(Active);
        _waiting = null;
        _pending = null;
        Interlocked.Add(ref _ctx.Counters.Found, a.Collisions);
        if (!a.Ok)
        {
            if (!a.TableFull) Interlocked.Increment(ref _ctx.Counters.InsertFailed); // the kernel counts table full as drop only
            Interlocked.Increment(ref _ctx.Counters.Drop);
            replyTo.Tell(Answer(CoreVerdict.Dropped(a.TableFull ? DropReason.TableFull : DropReason.PortsExhausted, tuple), _waitingId));
            Stash.UnstashAll();
            LetGoIfEmpty();
            return;
        }
        var ip = new IPv4(a.Ip);
        var port = (ushort)a.Port;
        var reply = PortAllocator.ReplyFor(tuple, ip, port);
        var pool = Keys.PoolOfReply(reply, _ctx.Options.PoolBuckets);
        var masquerade = pending.MasqueradeInterface.Length == 0 ? null : pending.MasqueradeInterface;
        if (a.Existing)
        {
            // The pool already holds this connection (a repeated first packet, or this incarnation lost its memory):
            // carry on with its entry, the first packet first, then those that waited.
            Adopt(new ConntrackEntry { Id = a.ConntrackId, Original = tuple, Reply = reply, State = a.State.ToCore(), MasqueradeInterface = masquerade }, pool);
            Handle(new EntityPacket { Original = tuple.ToMsg(), Direction = 0, Packet = _first.ToMsg(), RequestId = _waitingId }, replyTo);
            Stash.UnstashAll();
            return;
        }
        ConnTracker.Start(out var state, tuple, _first.Flags, _first.SeqEnd, _ctx.Clock.NowMs, _ctx.Timeouts);
        if (ip != tuple.Src || port != tuple.Key) state.Status |= ConnStatus.SrcNat;
        // The pool made the reservation durable before it answered: that is the acknowledgement.
        Adopt(new ConntrackEntry { Id = pending.ConntrackId, Original = tuple, Reply = reply, State = state, MasqueradeInterface = masquerade }, pool);
        Interlocked.Increment(ref _ctx.Counters.Insert);
        _ctx.EntryEvent?.Invoke(_entry, null);
        _ctx.AllocationObserved?.Invoke(System.Diagnostics.Stopwatch.GetElapsedTime(_allocationStarted));
        var kind = _entry.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
        replyTo.Tell(Answer(new CoreVerdict(kind, DropReason.None, tuple.WithSource(ip, port), Direction.Original, _entry.Id, true), _waitingId));
        _ctx.SourceRegion.Tell(new RegisterSource
        {
            Bucket = Keys.SourceBucket(tuple.Proto, tuple.Src, tuple.Key, _ctx.Options.SourceBuckets),
            Proto = (uint)tuple.Proto, Client = tuple.Src.Value, ClientPort = tuple.Key,
            Mapping = new SourceMapping { Ip = ip.Value, Port = port, ConntrackId = _entry.Id },
        });
        Stash.UnstashAll();
    }
}
