using Prometheus;

namespace ActorNat.Node.Metrics;

/// <summary>
/// Runs the <see cref="INodeMetricsSource"/>s before each scrape and writes their values into the gauges; a label set
/// a source no longer reports (a NAT IP removed, a state with no entries left) is removed from the output.
/// </summary>
internal sealed class ScrapeCollector : INodeMetricsWriter
{
    private readonly NatMetrics _m;
    private readonly IReadOnlyList<INodeMetricsSource> _sources;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private HashSet<(Gauge, string, string)> _seen = [], _previous = [];

    public ScrapeCollector(NatMetrics metrics, IReadOnlyList<INodeMetricsSource> sources, ILogger log)
    {
        _m = metrics;
        _sources = sources;
        _log = log;
        metrics.Registry.AddBeforeCollectCallback(Collect);
    }

    public void Collect()
    {
        lock (_lock)
        {
            (_previous, _seen) = (_seen, _previous);
            _seen.Clear();
            foreach (var s in _sources)
            {
                try
                {
                    s.Collect(this);
                }
                catch (Exception e)
                {
                    _log.LogWarning(e, "metrics source {Source} failed during a scrape", s.GetType().Name);
                }
            }
            foreach (var (g, a, b) in _previous)
                if (!_seen.Contains((g, a, b))) g.RemoveLabelled(Labels(g, a, b));
        }
    }

    private string[] Labels(Gauge g, string a, string b) => g.LabelNames.Length == 1 ? [a] : [a, b];

    private void Set(Gauge g, string a, string b, long value)
    {
        _seen.Add((g, a, b));
        g.WithLabels(Labels(g, a, b)).Set(value);
    }

    public void ConntrackEntries(string protocol, string state, long count) => Set(_m.Entries, protocol, state, count);
    public void ConntrackMax(long max) => _m.ConntrackMax.Set(max);
    public void ConntrackStat(string name, long value) => _m.ConntrackStats.WithLabels(name).IncTo(value);

    public void PortPool(string natIp, string protocol, long used, long size)
    {
        Set(_m.PoolUsed, natIp, protocol, used);
        Set(_m.PoolSize, natIp, protocol, size);
    }

    public void Shards(string entityType, long shards, long entities)
    {
        Set(_m.Shards, entityType, "", shards);
        Set(_m.Entities, entityType, "", entities);
    }
}
