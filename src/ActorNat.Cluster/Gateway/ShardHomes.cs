using System.Collections.Frozen;
using Akka.Actor;
using Akka.Cluster.Sharding;
using ActorNat.Cluster.Messages;

namespace ActorNat.Cluster.Gateway;

/// <summary>The shard regions whose messages may travel in a node envelope.</summary>
public enum RegionKind
{
    Pool,
    Source,
}

/// <summary>
/// Which node hosts each pool and bysource shard, as the cluster's sharding statistics last said (polled by the
/// gateway). A hint, not state: a stale home costs one more hop (the receiving node's region forwards the message to
/// the shard's real home), never a wrong answer. Unknown while shards may be moving after a member's loss, so every
/// message then goes through the local region as before.
/// </summary>
public sealed class ShardHomes(Failover.FailoverWindow failover)
{
    private volatile FrozenDictionary<(RegionKind, string), Address> _homes = FrozenDictionary<(RegionKind, string), Address>.Empty;
    private IMessageExtractor? _pool, _source;

    /// <summary>This node's own address (messages for its own shards never take the gateway).</summary>
    public Address? Self { get; private set; }

    public void Use(IMessageExtractor pool, IMessageExtractor source)
    {
        _pool = pool;
        _source = source;
    }

    public int Count => _homes.Count;

    internal void Started(Address self) => Self = self;

    /// <summary>The region a message is for, when its shard's home can be known.</summary>
    public static RegionKind? RegionOf(object m) => m switch
    {
        IPoolMessage => RegionKind.Pool,
        ISourceMessage => RegionKind.Source,
        _ => null,
    };

    /// <summary>The other node that hosts the message's shard, or null: this node, unknown, or shards moving.</summary>
    public Address? RemoteHomeOf(object m)
    {
        if (Self is null || failover.Active || RegionOf(m) is not { } region) return null;
        var extractor = region == RegionKind.Pool ? _pool : _source;
        if (extractor?.EntityId(m) is not { } entity || extractor.ShardId(entity, m) is not { } shard) return null;
        return _homes.TryGetValue((region, shard), out var home) && home != Self ? home : null;
    }

    internal void Replace(RegionKind region, ClusterShardingStats stats)
    {
        var next = _homes.Where(kv => kv.Key.Item1 != region).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (address, regionStats) in stats.Regions)
            foreach (var shard in regionStats.Stats.Keys)
                next[(region, shard)] = address;
        _homes = next.ToFrozenDictionary();
    }

    /// <summary>A member is unreachable or gone: its shards' homes are unknown until the next poll.</summary>
    internal void Forget(Address member) =>
        _homes = _homes.Where(kv => kv.Value != member).ToFrozenDictionary(kv => kv.Key, kv => kv.Value);
}
