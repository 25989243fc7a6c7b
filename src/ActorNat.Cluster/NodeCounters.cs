namespace ActorNat.Cluster;

/// <summary>This node's `conntrack -S` counters and verdict counts, updated by its actors without locks.</summary>
public sealed class NodeCounters
{
    public long Found, Invalid, Insert, InsertFailed, Drop, EarlyDrop, Error, SearchRestart, ClashResolve, ChainTooLong;
    /// <summary>Entries destroyed on this node, and verdict asks that had to be repeated (a shard moving).</summary>
    public long Destroyed, Retries;
    /// <summary>Entries held by the pools on this node (a gauge).</summary>
    public long Held;
    /// <summary>Pool commands dropped and packets refused while this node was fenced.</summary>
    public long Fenced;
    /// <summary>Packets this node's ingress answered from its flow cache (leased entries' steady packets).</summary>
    public long FlowCacheAnswered;

    public IReadOnlyList<(string Name, long Value)> All() =>
    [
        ("found", Interlocked.Read(ref Found)), ("invalid", Interlocked.Read(ref Invalid)), ("insert", Interlocked.Read(ref Insert)),
        ("insert_failed", Interlocked.Read(ref InsertFailed)), ("drop", Interlocked.Read(ref Drop)),
        ("early_drop", Interlocked.Read(ref EarlyDrop)), ("error", Interlocked.Read(ref Error)),
        ("search_restart", Interlocked.Read(ref SearchRestart)), ("clash_resolve", Interlocked.Read(ref ClashResolve)),
        ("chaintoolong", Interlocked.Read(ref ChainTooLong)),
    ];
}
