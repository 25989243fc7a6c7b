using System.Collections.Concurrent;
using System.Text;

namespace ActorNat.Dataplane;

/// <summary>What the data plane did with packets, for its summary line and its tests.</summary>
public sealed class Counters
{
    private long _cached, _cluster, _icmpErrors, _refreshes, _invalidated, _expired;
    private readonly ConcurrentDictionary<string, long> _drops = new();

    public long Cached => Interlocked.Read(ref _cached);
    public long Cluster => Interlocked.Read(ref _cluster);
    public long IcmpErrors => Interlocked.Read(ref _icmpErrors);
    public long Refreshes => Interlocked.Read(ref _refreshes);
    public long Invalidated => Interlocked.Read(ref _invalidated);
    public long Expired => Interlocked.Read(ref _expired);
    public IReadOnlyDictionary<string, long> Drops => _drops;

    /// <summary>Forwarded, rewritten from the flow cache.</summary>
    public void CountCached() => Interlocked.Increment(ref _cached);
    /// <summary>Forwarded with the cluster's verdict.</summary>
    public void CountCluster() => Interlocked.Increment(ref _cluster);
    public void CountIcmpError() => Interlocked.Increment(ref _icmpErrors);
    public void CountRefresh() => Interlocked.Increment(ref _refreshes);
    public void CountInvalidated() => Interlocked.Increment(ref _invalidated);
    public void CountExpired(int n) => Interlocked.Add(ref _expired, n);
    public void CountDrop(string reason) => _drops.AddOrUpdate(reason, 1, (_, n) => n + 1);

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append($"forwarded_cache={Cached} forwarded_cluster={Cluster} icmp_errors_translated={IcmpErrors} ");
        sb.Append($"refreshes={Refreshes} invalidated={Invalidated} expired={Expired}");
        foreach (var (reason, n) in _drops.OrderBy(d => d.Key)) sb.Append($" drop[{reason}]={n}");
        return sb.ToString();
    }
}
