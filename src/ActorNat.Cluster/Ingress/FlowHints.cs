using System.Collections.Concurrent;
using ActorNat.Core.Net;

namespace ActorNat.Cluster.Ingress;

/// <summary>
/// The original tuples this node's ingress has seen answered (a routing hint, not state): a client's packet of a
/// hinted connection goes straight to its conntrack entity; any other goes the first-packet way (bysource index, then
/// the pool, which sends it on to the entity if the connection exists after all). A stale hint only costs a detour
/// (the entity of a gone connection opens it anew, as for any packet), so the set is simply emptied when it is full.
/// </summary>
public sealed class FlowHints(int capacity = 1 << 20)
{
    private readonly ConcurrentDictionary<FiveTuple, byte> _seen = new();
    private int _count;

    public bool Contains(in FiveTuple original) => _seen.ContainsKey(original);

    public void Add(in FiveTuple original)
    {
        if (!_seen.TryAdd(original, 0)) return;
        if (Interlocked.Increment(ref _count) <= capacity) return;
        _seen.Clear();
        Interlocked.Exchange(ref _count, 0);
    }
}
