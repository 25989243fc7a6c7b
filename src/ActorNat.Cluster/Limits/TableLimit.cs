using ActorNat.Core.Conntrack;

namespace ActorNat.Cluster.Limits;

/// <summary>
/// nf_conntrack_max across the cluster, as one node sees it. The table is the pools' holders on every node: this node
/// counts its own exactly (<see cref="NodeCounters.Held"/>, updated as its pools take and free entries) and learns the
/// other members' counts from <see cref="ClusterCountPoller"/> every <see cref="ClusterCountPoller.Interval"/>.
/// A pool asks <see cref="IsFull"/> before it makes a new entry (<see cref="PoolGate"/>), with Core's rule
/// (<see cref="ConntrackLimit"/>). Tolerance: the others' counts are at most one interval (plus a round trip) old, so
/// the cluster may exceed the limit by what the other members admitted meanwhile, but never by more than a quarter
/// (<see cref="NodeCap"/>), and on one node by the pools that check at the same instant (at most one per thread).
/// Once the counts are known, newcomers make room for themselves and more (<see cref="PoolGate"/>) until it is back.
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

    private int _members = 1;

    /// <summary>The Up members, as last counted (this node's share of the limit depends on it).</summary>
    public int Members
    {
        get => Volatile.Read(ref _members);
        set => Volatile.Write(ref _members, Math.Max(1, value));
    }

    /// <summary>nf_conntrack_count as this node knows it: its own pools' entries now, the others' as last heard.</summary>
    public long Count => Interlocked.Read(ref counters.Held) + Others;

    /// <summary>
    /// The most this node's pools hold, whatever it believes of the others: a quarter above an even share. Shards
    /// spread pools evenly and flows spread evenly over pools, so an even share is what a node holds at the limit;
    /// the quarter absorbs unevenness. It bounds a surge whose counts are still in flight to 1.25 × max.
    /// </summary>
    public long NodeCap => Members <= 1 ? Max : (Max * 5L + 4L * Members - 1) / (4L * Members);

    public bool IsFull => ConntrackLimit.IsFull(Count, Max) || ConntrackLimit.IsFull(Interlocked.Read(ref counters.Held), (int)Math.Min(int.MaxValue, NodeCap));

    /// <summary>How many entries over the limit (or over this node's cap) the table is, counting a newcomer: at least 1 when full.</summary>
    public long Excess => Math.Max(Count - Max, Interlocked.Read(ref counters.Held) - NodeCap) + 1;
}
