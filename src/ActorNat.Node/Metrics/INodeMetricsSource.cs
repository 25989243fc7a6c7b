namespace ActorNat.Node.Metrics;

/// <summary>
/// What a backend reports at scrape time (pull): gauges and monotonic counters it keeps itself. The node calls
/// <see cref="Collect"/> once per scrape, never on the packet path. The in-process backend is covered by
/// <see cref="LocalBackendMetricsSource"/>; the cluster backend implements this interface (on the backend itself, or
/// registered in DI as <see cref="INodeMetricsSource"/>) and reports its shards and entities too.
/// Events that happen inside the backend (journal writes, allocations) are pushed instead, through
/// <see cref="NatMetrics.ObserveJournalWrite"/> and <see cref="NatMetrics.ObserveAllocation"/>.
/// </summary>
public interface INodeMetricsSource
{
    void Collect(INodeMetricsWriter writer);
}

/// <summary>Where a <see cref="INodeMetricsSource"/> writes one scrape's values. Label sets not written again disappear.</summary>
public interface INodeMetricsWriter
{
    /// <summary>Live conntrack entries of one protocol ("tcp", "udp", "icmp") and state (a TCP state, or UNREPLIED/REPLIED/ASSURED).</summary>
    void ConntrackEntries(string protocol, string state, long count);

    /// <summary>nf_conntrack_max of this node's table(s).</summary>
    void ConntrackMax(long max);

    /// <summary>One `conntrack -S` counter ("found", "insert", "insert_failed", "drop", …): a running total.</summary>
    void ConntrackStat(string name, long value);

    /// <summary>Port-pool use of one NAT IP and protocol: distinct NAT ports (ICMP ids) in use, and how many the rules can hand out.</summary>
    void PortPool(string natIp, string protocol, long used, long size);

    /// <summary>Shards and entities of one sharded entity type hosted on this node (cluster backend).</summary>
    void Shards(string entityType, long shards, long entities);
}
