using Akka.Actor;
using ActorNat.Cluster.Failover;
using ActorNat.Cluster.Fencing;
using ActorNat.Cluster.Routing;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;

namespace ActorNat.Cluster;

/// <summary>What every actor of one node shares: its clock, configuration, counters, settings and the regions.</summary>
public sealed class NatNodeContext
{
    public NatNodeContext(ClusterNodeOptions options, IClock clock)
    {
        Options = options;
        Clock = clock;
        NodeName = options.NodeName;
        Limits = new Limits.TableLimit(Counters);
        Messenger = new Gateway.NodeMessenger(this);
        Timing = Fencing.FailoverTiming.Of(options);
        Fence = new NodeFence(options.PauseLimit > TimeSpan.Zero ? options.PauseLimit : Timing.PauseLimit);
        if (options.ActivationLog is { Length: > 0 } path)
        {
            var log = new ActivationLog(path);
            ActivationFile = log;
            ActivationObserver = log.Entity;
            RecoveryObserver = (node, pool) => log.Event(node, "recovered", pool);
            Fence.SoftFenceChanged += (up, since, why) => log.Fence(NodeName, up, since, why);
            Fence.Tripped += (_, since) => log.Fence(NodeName, true, since, "pause");
        }
    }

    public ClusterNodeOptions Options { get; }
    public IClock Clock { get; }
    public ConfigHolder Config { get; } = new();
    public NodeCounters Counters { get; } = new();

    /// <summary>nf_conntrack_max and the cluster's count as this node knows it.</summary>
    public Limits.TableLimit Limits { get; }

    /// <summary>Connections this node's ingress has seen answered: which way a client's packet goes first.</summary>
    public Ingress.FlowHints FlowHints { get; } = new();

    /// <summary>Copies of entries leased to this node: its ingress answers their steady packets itself.</summary>
    public Ingress.FlowCache FlowCache { get; } = new();

    /// <summary>Each node's flow cache actor, resolved once (entities revoke their leases there).</summary>
    internal System.Collections.Concurrent.ConcurrentDictionary<Address, IActorRef> FlowCacheRefs { get; } = new();
    public ConntrackTimeouts Timeouts { get; set; } = ConntrackTimeouts.Default;
    public string NodeName { get; set; }

    /// <summary>Whether shards may be moving now (a member unreachable or just lost): requests are repeated sooner.</summary>
    public FailoverWindow Failover { get; } = new();

    /// <summary>Detection, downing and fencing timings, and the lease that follows from them.</summary>
    public Fencing.FailoverTiming Timing { get; }

    /// <summary>Whether this node may act (journal, answer): not after a long pause, not on the minority side, not without a lease.</summary>
    public NodeFence Fence { get; }

    /// <summary>Where this node serves gRPC, once its host knows (shown by cluster status).</summary>
    public string GrpcEndpoint { get; set; } = "";

    /// <summary>How messages reach pools, bysource buckets and reply targets on other nodes: one envelope per node.</summary>
    public Gateway.NodeMessenger Messenger { get; }

    public IActorRef ConntrackRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef PoolRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef SourceRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef ConfigRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef Router { get; internal set; } = ActorRefs.Nobody;

    /// <summary>An entry was created (reason null) or destroyed on this node: the host's NAT event log and metrics.</summary>
    public Action<ConntrackEntry, DestroyReason?>? EntryEvent { get; set; }

    /// <summary>A new flow's decision and allocation took this long (from its first packet to the pool's durable answer).</summary>
    public Action<TimeSpan>? AllocationObserved { get; set; }

    /// <summary>The activation log, when the node keeps one (its cluster events go there too).</summary>
    public ActivationLog? ActivationFile { get; }

    /// <summary>A pool finished replaying its journal (chaos timelines): node name and persistence id.</summary>
    public Action<string, string>? RecoveryObserver { get; set; }

    /// <summary>Observes entity activations (tests, chaos): node name and entity id, on start and on stop.</summary>
    public Action<string, string, bool>? ActivationObserver { get; set; }

    /// <summary>Tests: a pool loses the messages this returns true for, as a region may during a shard hand-off.</summary>
    public Func<object, bool>? LoseAtPool { get; set; }

    /// <summary>Tests: a conntrack entity loses the messages this returns true for (a message still on its way).</summary>
    public Func<object, bool>? LoseAtEntity { get; set; }
}
