using ActorNat.Core.Conntrack;

namespace ActorNat.Cluster.Limits;

/// <summary>
/// nf_conntrack_max across the cluster, as one node sees it. The table is the pools' holders on every node: this node
/// counts its own exactly (<see cref="NodeCounters.Held"/>, updated as its pools take and free entries) and learns the
/// other members' counts from <see cref="ClusterCountPoller"/> every <see cref="ClusterCountPoller.Interval"/>.
/// A pool asks <see cref="IsFull"/> before it makes a new entry (<see cref="PoolGate"/>), with Core's rule
/// (<see cref="ConntrackLimit"/>). Tolerance: the others' counts are at most one interval (plus a round trip) old, so
/// the cluster may exceed the limit by what the other members admitted meanwhile, and on one node by the pools that
/// check at the same instant (at most one per thread); it never grows beyond that, since every node then sees it full.
/// </summary>
public sealed class TableLimit(NodeCounters counters)
{
    private int _max = ConntrackLimit.DefaultMax;
    private long _others;

    /// <summary>nf_conntrack_max of the configuration this node decides with (0: no limit).</summary>
    public int Max
    {
        get => Volatile.Read(ref _max);
        set => Volatile.Write(ref _max, value);
    }

    /// <summary>The entries the other members' pools held when last asked.</summary>
    public long Others
    {
        get => Interlocked.Read(ref _others);
        set => Interlocked.Exchange(ref _others, value);
    }

    /// <summary>nf_conntrack_count as this node knows it: its own pools' entries now, the others' as last heard.</summary>
    public long Count => Interlocked.Read(ref counters.Held) + Others;

    public bool IsFull => ConntrackLimit.IsFull(Count, Max);
}
