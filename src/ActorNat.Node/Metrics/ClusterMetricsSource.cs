using Akka.Actor;
using ActorNat.Cluster;
using ActorNat.Cluster.Hosting;
using ActorNat.Node.Events;

namespace ActorNat.Node.Metrics;

/// <summary>
/// Scrape-time metrics of a cluster node: the entries its own pools hold (by protocol and state, port-pool use per
/// NAT IP), its `conntrack -S` counters, and its shards and active entities per entity type.
/// </summary>
public sealed class ClusterMetricsSource(ClusterNatBackend backend) : INodeMetricsSource
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(5);

    public void Collect(INodeMetricsWriter w)
    {
        var ctx = backend.Context;
        foreach (var (name, value) in ctx.Counters.All()) w.ConntrackStat(name, value);
        w.ConntrackMax(ctx.Limits.Max);
        var entries = backend.LocalEntriesAsync().WaitAsync(Budget).GetAwaiter().GetResult();
        LocalBackendMetricsSource.WriteEntries(entries, ctx.Config.Current.Engine, w);
        foreach (var (type, shards, entities) in backend.LocalShardsAsync().WaitAsync(Budget).GetAwaiter().GetResult())
            w.Shards(type, shards, entities);
    }

    /// <summary>
    /// The cluster's entity events into the node's metrics and NAT event log (create and delete of translated
    /// sessions), its journal writes (<see cref="JournalMeter"/>) into the journal histograms, and its new flows' allocation
    /// times into the allocation histogram.
    /// </summary>
    public static void Attach(ClusterNatBackend backend, ActorSystem system, NatMetrics metrics, INatEventSink events)
    {
        JournalMeter.Get(system).Observe(w => metrics.ObserveJournalWrite(w.Journal, w.Duration, w.Events, w.Rejected, w.Failed));
        backend.Context.AllocationObserved = metrics.ObserveAllocation;
        backend.Context.EntryEvent = (e, reason) =>
        {
            if (reason is { } r) metrics.CountDestroyed(r);
            if (!e.Translated) return;
            var type = reason is null ? NatEventType.SessionCreate : NatEventType.SessionDelete;
            metrics.CountEvent(type);
            if (events.Enabled)
                events.Publish(new NatEvent(type, DateTimeOffset.UtcNow, e.Id, e.Original, e.Reply,
                    reason is { } why ? NatMetrics.ReasonName(why) : null, e.NatIp, 0));
        };
    }
}
