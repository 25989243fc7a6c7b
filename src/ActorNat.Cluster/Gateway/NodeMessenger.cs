using Akka.Actor;
using ActorNat.Cluster.Messages;

namespace ActorNat.Cluster.Gateway;

/// <summary>Messages for another node, handed to this node's gateway (never serialized themselves).</summary>
internal sealed record Outgoing(Address Node, IActorRef? Target, IReadOnlyList<IClusterMessage> Messages) : INoSerializationVerificationNeeded;

/// <summary>
/// How this node's actors send to pools, bysource buckets and reply targets on other nodes: through the node's
/// gateway, which sends what is bound for one node as one remote message (<see cref="NodeEnvelope"/>), instead of one
/// remote message each. Anything local, of unknown home, or sent while shards move goes the usual way, directly.
/// </summary>
public sealed class NodeMessenger(NatNodeContext ctx)
{
    public ShardHomes Homes { get; } = new(ctx.Failover);

    /// <summary>This node's gateway; Nobody until started (then everything goes directly).</summary>
    public IActorRef Gateway { get; internal set; } = ActorRefs.Nobody;

    /// <summary>Envelopes and the messages in them, both ways (per-node counts; the profile's batching factor).</summary>
    public long EnvelopesSent, ItemsSent, EnvelopesReceived;

    private bool On => !Gateway.IsNobody();

    /// <summary>To the entity the message names (a pool or a bysource bucket), through its region or its node's gateway.</summary>
    public void ToEntity(IClusterMessage m, IActorRef sender)
    {
        if (On && Homes.RemoteHomeOf(m) is { } home) Gateway.Tell(new Outgoing(home, null, [m]), sender);
        else RegionFor(m).Tell(m, sender);
    }

    /// <summary>Several messages for entities, each node's share as one envelope.</summary>
    public void ToEntities(IEnumerable<IClusterMessage> messages, IActorRef sender)
    {
        Dictionary<Address, List<IClusterMessage>>? remote = null;
        foreach (var m in messages)
        {
            if (On && Homes.RemoteHomeOf(m) is { } home)
            {
                remote ??= [];
                if (!remote.TryGetValue(home, out var list)) remote[home] = list = [];
                list.Add(m);
            }
            else RegionFor(m).Tell(m, sender);
        }
        if (remote is null) return;
        foreach (var (home, list) in remote) Gateway.Tell(new Outgoing(home, null, list), sender);
    }

    /// <summary>An answer to an actor (a batch's reply target): through the gateway when it lives on another node.</summary>
    public void Reply(IActorRef target, object answer, IActorRef sender)
    {
        if (On && answer is IClusterMessage m && target is IInternalActorRef { IsLocal: false } && target.Path.Address.HasGlobalScope)
            Gateway.Tell(new Outgoing(target.Path.Address, target, [m]), sender);
        else target.Tell(answer, sender);
    }

    /// <summary>The home of a message's shard when on another node (FirstPackets groups a batch by it), else null.</summary>
    public Address? RemoteHomeOf(IClusterMessage m) => On ? Homes.RemoteHomeOf(m) : null;

    internal IActorRef RegionFor(object m) => m switch
    {
        IPoolMessage => ctx.PoolRegion,
        ISourceMessage => ctx.SourceRegion,
        IConntrackMessage => ctx.ConntrackRegion,
        IConfigMessage => ctx.ConfigRegion,
        _ => throw new ArgumentException($"{m.GetType().Name} names no entity"),
    };
}
