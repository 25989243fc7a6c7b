using Akka.Actor;
using ActorNat.Cluster.Messages;
using ActorNat.Cluster.Routing;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using CorePacket = ActorNat.Core.Engine.Packet;

namespace ActorNat.Cluster.Ingress;

/// <summary>
/// The first packets of one ingress batch: connections this node has not seen, decided here with the node's router
/// snapshot (rule, NAT range) and grouped by bysource bucket, one message per bucket. The index sends them on grouped by
/// pool; the pool allocates, journals the group as one event and answers each packet itself, so no conntrack entity
/// is started for a connection's first packet. A packet whose connection exists after all (another node's ingress saw
/// it, or this node's hints were emptied) is sent on by the pool to its entity. Packets this cannot decide alone (an
/// invalid start, a drop by the rules: an existing connection would not be dropped; protocols other than TCP and UDP)
/// go to their entity as before.
/// </summary>
public sealed class FirstPackets(NatNodeContext ctx, ConfigVersion snapshot)
{
    private readonly Dictionary<string, (AllocateBatch Message, List<int> Members)> _byBucket = [];

    private readonly Dictionary<int, ulong> _ids = [];

    public bool Any => _byBucket.Count > 0;

    /// <summary>
    /// Whether request <paramref name="index"/> made the entry <paramref name="conntrackId"/>: its allocation carried
    /// that id. A late first packet is asked again through its entity, whose answer says "existing" when the first
    /// attempt's allocation did land; the packet still created the connection.
    /// </summary>
    public bool Made(int index, ulong conntrackId) => conntrackId != 0 && _ids.TryGetValue(index, out var id) && id == conntrackId;

    public bool TryAdd(int index, in CorePacket packet, Messages.Packet msg)
    {
        var tuple = packet.Tuple;
        // TCP and UDP only: ICMP (errors relate to another connection) and other protocols keep the entity's path.
        if (tuple.Proto is not (Protocol.Tcp or Protocol.Udp)) return false;
        if (!ctx.Config.Loaded || ctx.FlowHints.Contains(tuple)) return false;
        var now = ctx.Clock.NowMs;
        if (ConnTracker.Start(out var state, tuple.Proto, packet.Flags, packet.SeqEnd, now, ctx.Timeouts) == PacketOutcome.Invalid) return false;
        var decision = snapshot.Decide(tuple);
        // Only a translation: a packet no rule translates may be the answer of an untranslated connection (its tuple
        // is that connection's reply tuple, e.g. a server's or the box's own answer), which only the entity, found by
        // the symmetric key from either direction, knows.
        if (decision.Kind != DecisionKind.Nat) return false;
        var allocate = new Allocate
        {
            Original = msg.Tuple, Range = decision.Range.ToMsg(), TcpSyn = tuple.Proto == Protocol.Tcp && state.Tcp == TcpState.SynSent,
            SynSeqEnd = packet.SeqEnd, State = state.ToMsg(), ConntrackId = (ulong)Random.Shared.NextInt64(1, long.MaxValue),
            MasqueradeInterface = decision.Masquerade ? decision.OutInterface : "",
            AnswerVerdict = true, Packet = msg, RequestId = (uint)index,
        };
        var bucket = Keys.SourceBucket(tuple.Proto, tuple.Src, tuple.Key, ctx.Options.SourceBuckets);
        if (!_byBucket.TryGetValue(bucket, out var group)) _byBucket[bucket] = group = (new AllocateBatch { Bucket = bucket }, []);
        group.Message.Allocations.Add(allocate);
        _ids[index] = allocate.ConntrackId;
        group.Members.Add(index);
        return true;
    }

    /// <summary>
    /// One message per bucket on this node (or of unknown home), and one envelope per other node holding its buckets'
    /// messages (sent by the gateway as one remote message).
    /// </summary>
    public List<(IActorRef Target, object Message, List<int> Members)> Groups()
    {
        var groups = new List<(IActorRef, object, List<int>)>();
        Dictionary<Akka.Actor.Address, (List<IClusterMessage> Messages, List<int> Members)>? remote = null;
        foreach (var (message, members) in _byBucket.Values)
        {
            if (ctx.Messenger.RemoteHomeOf(message) is not { } home)
            {
                groups.Add((ctx.SourceRegion, message, members));
                continue;
            }
            remote ??= [];
            if (!remote.TryGetValue(home, out var node)) remote[home] = node = ([], []);
            node.Messages.Add(message);
            node.Members.AddRange(members);
        }
        if (remote is not null)
            foreach (var (home, node) in remote)
                groups.Add((ctx.Messenger.Gateway, new Gateway.Outgoing(home, null, node.Messages), node.Members));
        return groups;
    }
}
