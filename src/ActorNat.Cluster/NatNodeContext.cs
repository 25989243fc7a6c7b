using Akka.Actor;
using ActorNat.Cluster.Routing;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;

namespace ActorNat.Cluster;

/// <summary>What every actor of one node shares: its clock, configuration, counters, settings and the regions.</summary>
public sealed class NatNodeContext(ClusterNodeOptions options, IClock clock)
{
    public ClusterNodeOptions Options { get; } = options;
    public IClock Clock { get; } = clock;
    public ConfigHolder Config { get; } = new();
    public NodeCounters Counters { get; } = new();
    public ConntrackTimeouts Timeouts { get; set; } = ConntrackTimeouts.Default;
    public string NodeName { get; set; } = options.NodeName;

    /// <summary>Where this node serves gRPC, once its host knows (shown by cluster status).</summary>
    public string GrpcEndpoint { get; set; } = "";

    public IActorRef ConntrackRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef PoolRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef SourceRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef ConfigRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef Router { get; internal set; } = ActorRefs.Nobody;

    /// <summary>An entry was created (reason null) or destroyed on this node: the host's NAT event log and metrics.</summary>
    public Action<ConntrackEntry, DestroyReason?>? EntryEvent { get; set; }

    /// <summary>Observes entity activations (tests, chaos): node name and entity id, on start and on stop.</summary>
    public Action<string, string, bool>? ActivationObserver { get; set; }
}
