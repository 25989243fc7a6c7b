using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using ActorNat.Cluster.Messages;
using ActorNat.Cluster.Serialization;
using Google.Protobuf;

namespace ActorNat.Cluster.Gateway;

/// <summary>
/// One per node. Outbound: collects what this node's actors send to entities and reply targets on other nodes and
/// sends each node's share as one <see cref="NodeEnvelope"/> once the messages queued here are taken in (so the more
/// load, the larger the envelopes; an idle node sends at once). Inbound: delivers each item of an envelope through
/// this node's shard region, which forwards it on if the shard has moved, or to the actor it names, with its sender.
/// Also polls where the pool and bysource shards live (<see cref="ShardHomes"/>).
/// </summary>
public sealed class NodeGateway : ReceiveActor, IWithTimers
{
    public const string Name = "actornat-gateway";
    private const int MaxEnvelopeBytes = 64 * 1024; // well under remoting's maximum frame
    private static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(2);

    private readonly NatNodeContext _ctx;
    private readonly NodeMessenger _messenger;
    private readonly ClusterSerializer _serializer;
    private readonly IActorRefProvider _provider;
    private readonly Dictionary<Address, Pending> _pending = [];
    private readonly Dictionary<Address, IActorRef> _gateways = [];
    private bool _flushQueued;
    private long _lastFlush;
    private readonly long _holdTicks;

    private sealed class Pending
    {
        public readonly NodeEnvelope Envelope = new();
        public readonly Dictionary<IActorRef, uint> Refs = [];
        public int Bytes;
    }

    private sealed class Flush : INoSerializationVerificationNeeded
    {
        public static readonly Flush Instance = new();
    }

    private sealed class Poll : INoSerializationVerificationNeeded
    {
        public static readonly Poll Instance = new();
    }

    private sealed record Homes(RegionKind Region, ClusterShardingStats Stats) : INoSerializationVerificationNeeded;

    public ITimerScheduler Timers { get; set; } = null!;

    public NodeGateway(NatNodeContext ctx, NodeMessenger messenger)
    {
        _ctx = ctx;
        _messenger = messenger;
        var system = (ExtendedActorSystem)Context.System;
        _serializer = new ClusterSerializer(system);
        _provider = system.Provider;
        _holdTicks = (long)(ctx.Options.EnvelopeHold.TotalSeconds * Stopwatch.Frequency);

        Receive<Outgoing>(Buffer);
        Receive<Flush>(_ =>
        {
            _flushQueued = false;
            _lastFlush = Stopwatch.GetTimestamp();
            foreach (var node in _pending.Keys.ToList()) Send(node);
        });
        Receive<NodeEnvelope>(Deliver);
        Receive<Poll>(_ =>
        {
            var timeout = PollEvery;
            _ctx.PoolRegion.Ask<ClusterShardingStats>(new GetClusterShardingStats(timeout), timeout)
                .PipeTo(Self, success: s => new Homes(RegionKind.Pool, s), failure: e => new Status.Failure(e));
            _ctx.SourceRegion.Ask<ClusterShardingStats>(new GetClusterShardingStats(timeout), timeout)
                .PipeTo(Self, success: s => new Homes(RegionKind.Source, s), failure: e => new Status.Failure(e));
        });
        Receive<Homes>(h => _messenger.Homes.Replace(h.Region, h.Stats));
        Receive<Status.Failure>(_ => { }); // a poll timed out (a member unreachable): the next one tries again
        Receive<ClusterEvent.UnreachableMember>(m => Lost(m.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(m => Lost(m.Member.Address));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.ReachableMember>(_ => { });
    }

    protected override void PreStart()
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        _messenger.Homes.Started(cluster.SelfAddress);
        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer("poll", Poll.Instance, TimeSpan.FromMilliseconds(500), PollEvery);
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void Lost(Address member)
    {
        _messenger.Homes.Forget(member); // what is pending for it still goes, as it would have gone directly
    }

    private void Buffer(Outgoing o)
    {
        if (!_pending.TryGetValue(o.Node, out var p)) _pending[o.Node] = p = new Pending();
        uint sender = RefIndex(p, Sender, _provider.DefaultAddress);
        uint target = o.Target is null ? 0 : RefIndex(p, o.Target, _provider.DefaultAddress);
        foreach (var m in o.Messages)
        {
            var payload = UnsafeByteOperations.UnsafeWrap(_serializer.ToBinary(m)); // a fresh array, never written again
            p.Envelope.Items.Add(new EnvelopeItem { Sender = sender, Target = target, Manifest = _serializer.Manifest(m), Payload = payload });
            p.Bytes += payload.Length + 8;
        }
        if (p.Bytes >= MaxEnvelopeBytes) Send(o.Node);
        else if (!_flushQueued)
        {
            // A quiet gateway sends at once (after what is queued here now: the envelope takes all of it); a busy one
            // sends at most once per hold time, so its envelopes carry what the node's actors produced meanwhile.
            _flushQueued = true;
            var wait = _holdTicks - (Stopwatch.GetTimestamp() - _lastFlush);
            if (wait <= 0) Self.Tell(Flush.Instance);
            else
            {
                var self = Self;
                Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency)).ContinueWith(_ => self.Tell(Flush.Instance));
            }
        }
    }

    /// <summary>A local actor (a batch's temporary reply target too) is named with this node's address.</summary>
    private static uint RefIndex(Pending p, IActorRef actor, Address self)
    {
        if (actor.IsNobody()) return 0;
        if (p.Refs.TryGetValue(actor, out var i)) return i;
        var path = actor.Path;
        p.Envelope.Refs.Add(path.Address.HasGlobalScope ? path.ToSerializationFormat() : path.ToSerializationFormatWithAddress(self));
        return p.Refs[actor] = (uint)p.Envelope.Refs.Count;
    }

    private void Send(Address node)
    {
        if (!_pending.Remove(node, out var p) || p.Envelope.Items.Count == 0) return;
        if (!_gateways.TryGetValue(node, out var gateway))
            _gateways[node] = gateway = _provider.ResolveActorRef(new RootActorPath(node) / "user" / Name);
        gateway.Tell(p.Envelope, Self);
        Interlocked.Increment(ref _messenger.EnvelopesSent);
        Interlocked.Add(ref _messenger.ItemsSent, p.Envelope.Items.Count);
    }

    private void Deliver(NodeEnvelope e)
    {
        Interlocked.Increment(ref _messenger.EnvelopesReceived);
        var refs = new IActorRef?[e.Refs.Count];
        IActorRef Ref(uint i) => i == 0 ? ActorRefs.NoSender! : refs[i - 1] ??= _provider.ResolveActorRef(e.Refs[(int)i - 1])!;
        foreach (var item in e.Items)
        {
            var m = _serializer.FromBinary(item.Payload.ToByteArray(), item.Manifest);
            var sender = Ref(item.Sender);
            if (item.Target == 0) _messenger.RegionFor(m).Tell(m, sender);
            else Ref(item.Target).Tell(m, sender);
        }
    }

    public static Props Props(NatNodeContext ctx, NodeMessenger messenger) =>
        Akka.Actor.Props.Create(() => new NodeGateway(ctx, messenger));
}
