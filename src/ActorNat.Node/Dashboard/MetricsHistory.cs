using ActorNat.Node.Metrics;

namespace ActorNat.Node.Dashboard;

/// <summary>One moment of a node's running totals (the dashboard turns two of them into rates).</summary>
public sealed record NodeSample(long T, Dictionary<string, double> Verdicts, double NewFlows, Dictionary<string, double> Drops,
    Dictionary<string, double> LatencyBuckets, double LatencyCount, double JournalWrites);

/// <summary>A node's gauges at the last sample: port pools, entries, shards.</summary>
public sealed record NodeGauges(
    IReadOnlyList<PoolUse> Pools, IReadOnlyDictionary<string, double> Entries, IReadOnlyDictionary<string, ShardUse> Shards,
    double ConntrackMax, bool Ready, Dictionary<string, double> Events);

public sealed record PoolUse(string NatIp, string Protocol, double Used, double Size);

public sealed record ShardUse(double Shards, double Entities);

/// <summary>
/// Samples the node's own Prometheus output on a timer and keeps the last <see cref="Window"/>: every 2 s while a
/// dashboard has asked in the last 10 minutes, every 10 s otherwise (a scrape lists this node's entries, so nobody
/// watching costs little). The numbers are exactly what /metrics shows.
/// </summary>
public sealed class MetricsHistory(NatMetrics metrics, ILogger<MetricsHistory> log) : BackgroundService
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan Fast = TimeSpan.FromSeconds(2), Slow = TimeSpan.FromSeconds(10);
    private readonly Lock _lock = new();
    private readonly LinkedList<NodeSample> _samples = new();
    private NodeGauges _gauges = new([], new Dictionary<string, double>(), new Dictionary<string, ShardUse>(), 0, false, []);
    private long _lastViewedMs = long.MinValue / 2;
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>The samples of the window and the latest gauges; marks the dashboard as watched (sampling speeds up).</summary>
    public (NodeSample[] Samples, NodeGauges Gauges) Read()
    {
        var now = Environment.TickCount64;
        bool wasIdle = now - Interlocked.Exchange(ref _lastViewedMs, now) > TimeSpan.FromMinutes(10).TotalMilliseconds;
        if (wasIdle) _wake.Release();
        lock (_lock) return ([.. _samples], _gauges);
    }

    private bool Watched => Environment.TickCount64 - Interlocked.Read(ref _lastViewedMs) < TimeSpan.FromMinutes(10).TotalMilliseconds;

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await SampleAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                log.LogWarning(e, "dashboard: sampling the node's metrics failed");
            }
            try
            {
                await _wake.WaitAsync(Watched ? Fast : Slow, ct);
            }
            catch (OperationCanceledException) { return; }
        }
    }

    public async Task SampleAsync(CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(buffer, ct);
        var samples = ScrapeText.Parse(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        var (sample, gauges) = Digest(samples, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        lock (_lock)
        {
            _samples.AddLast(sample);
            while (_samples.First is { } first && sample.T - first.Value.T > Window.TotalMilliseconds) _samples.RemoveFirst();
            _gauges = gauges;
        }
    }

    /// <summary>The dashboard's view of one scrape: running totals and gauges.</summary>
    public static (NodeSample, NodeGauges) Digest(IEnumerable<ScrapeSample> scrape, long t)
    {
        var verdicts = new Dictionary<string, double>();
        var drops = new Dictionary<string, double>();
        var buckets = new Dictionary<string, double>();
        var entries = new Dictionary<string, double>();
        var events = new Dictionary<string, double>();
        var pools = new Dictionary<(string, string), (double Used, double Size)>();
        var shards = new Dictionary<string, ShardUse>();
        double newFlows = 0, latencyCount = 0, journal = 0, max = 0;
        bool ready = false;
        foreach (var s in scrape)
        {
            switch (s.Name)
            {
                case NatMetrics.Prefix + "verdicts_total": Add(verdicts, s.Label("verdict"), s.Value); break;
                case NatMetrics.Prefix + "drops_total": Add(drops, s.Label("reason"), s.Value); break;
                case NatMetrics.Prefix + "new_flows_total": newFlows += s.Value; break;
                case NatMetrics.Prefix + "verdict_duration_seconds_bucket": Add(buckets, s.Label("le"), s.Value); break;
                case NatMetrics.Prefix + "verdict_duration_seconds_count": latencyCount += s.Value; break;
                case NatMetrics.Prefix + "journal_write_duration_seconds_count": journal += s.Value; break;
                case NatMetrics.Prefix + "conntrack_entries": Add(entries, s.Label("protocol") + " " + s.Label("state"), s.Value); break;
                case NatMetrics.Prefix + "conntrack_max": max = s.Value; break;
                case NatMetrics.Prefix + "node_ready": ready = s.Value > 0; break;
                case NatMetrics.Prefix + "nat_events_total": Add(events, s.Label("event"), s.Value); break;
                case NatMetrics.Prefix + "port_pool_used":
                {
                    var k = (s.Label("nat_ip"), s.Label("protocol"));
                    pools[k] = (s.Value, pools.GetValueOrDefault(k).Size);
                    break;
                }
                case NatMetrics.Prefix + "port_pool_size":
                {
                    var k = (s.Label("nat_ip"), s.Label("protocol"));
                    pools[k] = (pools.GetValueOrDefault(k).Used, s.Value);
                    break;
                }
                case NatMetrics.Prefix + "cluster_shards":
                    shards[s.Label("entity_type")] = (shards.GetValueOrDefault(s.Label("entity_type")) ?? new ShardUse(0, 0)) with { Shards = s.Value };
                    break;
                case NatMetrics.Prefix + "cluster_entities":
                    shards[s.Label("entity_type")] = (shards.GetValueOrDefault(s.Label("entity_type")) ?? new ShardUse(0, 0)) with { Entities = s.Value };
                    break;
            }
        }
        var poolList = pools.Select(kv => new PoolUse(kv.Key.Item1, kv.Key.Item2, kv.Value.Used, kv.Value.Size))
            .OrderBy(p => p.NatIp, StringComparer.Ordinal).ThenBy(p => p.Protocol, StringComparer.Ordinal).ToList();
        return (new NodeSample(t, verdicts, newFlows, drops, buckets, latencyCount, journal), new NodeGauges(poolList, entries, shards, max, ready, events));
    }

    private static void Add(Dictionary<string, double> d, string key, double v) => d[key] = d.GetValueOrDefault(key) + v;
}
