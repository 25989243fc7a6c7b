using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Conntrack;
using Prometheus;

namespace ActorNat.Node.Metrics;

/// <summary>
/// The node's Prometheus metrics, in a registry of its own (several nodes may share a process in tests).
/// Counters and histograms on the packet path are pre-resolved label children: updating one is an interlocked add,
/// no lock, no allocation. Gauges (entries, pools, shards) are sampled at scrape time from <see cref="INodeMetricsSource"/>.
/// </summary>
public sealed class NatMetrics
{
    public const string Prefix = "actornat_";

    /// <summary>Verdict latency buckets: 5 µs … 1 s.</summary>
    private static readonly double[] LatencyBuckets =
        [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

    private static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    private readonly Counter.Child[] _verdicts;   // by VerdictKind
    private readonly Counter.Child[] _drops;      // by DropReason
    private readonly Counter.Child[] _translations; // by Direction
    private readonly Counter.Child[] _destroyed;  // by DestroyReason
    private readonly Counter _newFlows;
    private readonly Histogram.Child _unaryLatency, _batchLatency, _batchSize;
    private readonly Histogram _allocation, _journalWrite, _journalBatch;
    private readonly Counter _journalFailures;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, JournalSeries> _journals = new();
    private readonly Counter _natEvents, _requestTimeouts;
    private readonly Gauge _ready;

    internal readonly Gauge Entries, PoolUsed, PoolSize, Shards, Entities, ConntrackMax;
    internal readonly Counter ConntrackStats;

    public NatMetrics(string nodeName)
    {
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        Registry.SetStaticLabels(new Dictionary<string, string> { ["node"] = nodeName });

        var verdicts = f.CreateCounter(Prefix + "verdicts_total", "Verdicts answered, by kind (translate: NAT applied; nonat: tracked, not translated; drop; untracked: ICMP conntrack does not track, forwarded unchanged).", "verdict");
        _verdicts = [verdicts.WithLabels("translate"), verdicts.WithLabels("nonat"), verdicts.WithLabels("drop"), verdicts.WithLabels("untracked")];

        var drops = f.CreateCounter(Prefix + "drops_total", "Packets dropped, by reason.", "reason");
        _drops = Enum.GetValues<DropReason>().Select(r => drops.WithLabels(r.Name())).ToArray();

        var translations = f.CreateCounter(Prefix + "translations_total", "Packets translated (rewritten), by direction: original (source NAT) or reply (back to the client).", "direction");
        _translations = [translations.WithLabels("original"), translations.WithLabels("reply")];

        _newFlows = f.CreateCounter(Prefix + "new_flows_total", "New connections: verdicts that created a conntrack entry.");

        var destroyed = f.CreateCounter(Prefix + "conntrack_destroyed_total", "Conntrack entries that left the table, by reason (where the backend reports it).", "reason");
        _destroyed = Enum.GetValues<DestroyReason>().Select(r => destroyed.WithLabels(ReasonName(r))).ToArray();

        var latency = f.CreateHistogram(Prefix + "verdict_duration_seconds",
            "Time to answer one Translate call (unary: one packet) or one TranslateStream batch (batch), measured around the backend.",
            new HistogramConfiguration { LabelNames = ["call"], Buckets = LatencyBuckets });
        _unaryLatency = latency.WithLabels("unary");
        _batchLatency = latency.WithLabels("batch");
        _batchSize = f.CreateHistogram(Prefix + "verdict_batch_size", "Packets per TranslateStream batch.",
            new HistogramConfiguration { LabelNames = ["call"], Buckets = BatchBuckets }).WithLabels("batch");

        _allocation = f.CreateHistogram(Prefix + "allocation_duration_seconds",
            "Time to decide a new flow (route, rule, port allocation, entry insert). Local backend: the unary verdicts that created an entry; cluster backend: each new flow's conntrack entity, from its first packet to the pool's durable answer.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _journalWrite = f.CreateHistogram(Prefix + "journal_write_duration_seconds",
            "Time of one journal write, from the hand-over to the SQL journal until the database acknowledged (includes waiting in the journal's write queue), by journal: events (pools, configuration) or sharding (remember-entities). Cluster backend on SQLite or PostgreSQL.",
            new HistogramConfiguration { LabelNames = ["journal"], Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        _journalBatch = f.CreateHistogram(Prefix + "journal_write_batch_events", "Events carried by one journal write, by journal.",
            new HistogramConfiguration { LabelNames = ["journal"], Buckets = BatchBuckets });
        _journalFailures = f.CreateCounter(Prefix + "journal_write_failures_total",
            "Journal writes that failed (kind=failed: the whole write; the persisting actors stop) or atomic writes the journal rejected (kind=rejected).", "journal", "kind");

        _requestTimeouts = f.CreateCounter(Prefix + "request_timeouts_total",
            "gRPC calls answered UNAVAILABLE because the cluster did not answer in time (ask timeouts), by method.", "method");
        _natEvents = f.CreateCounter(Prefix + "nat_events_total", "NAT events (RFC 8158 natEvent): session_create (4), session_delete (5), ports_exhausted (12); counted even when the event log is off.", "event");
        _ready = f.CreateGauge(Prefix + "node_ready", "1 when the node is ready (/healthz/ready answers 200), else 0.");

        Entries = f.CreateGauge(Prefix + "conntrack_entries", "Live conntrack entries, by protocol and state (sampled at scrape time).", "protocol", "state");
        ConntrackMax = f.CreateGauge(Prefix + "conntrack_max", "nf_conntrack_max: the most entries the table holds.");
        ConntrackStats = f.CreateCounter(Prefix + "conntrack_stat_total", "The `conntrack -S` counters with the kernel's meanings (found, invalid, insert, insert_failed, drop, early_drop, …).", "counter");
        PoolUsed = f.CreateGauge(Prefix + "port_pool_used", "Distinct NAT ports (ICMP: ids) in use, per NAT IP and protocol (sampled at scrape time).", "nat_ip", "protocol");
        PoolSize = f.CreateGauge(Prefix + "port_pool_size", "Ports (ICMP: ids) the rules can hand out, per NAT IP and protocol.", "nat_ip", "protocol");
        Shards = f.CreateGauge(Prefix + "cluster_shards", "Shards hosted on this node, per entity type (cluster backend).", "entity_type");
        Entities = f.CreateGauge(Prefix + "cluster_entities", "Entities alive on this node, per entity type (cluster backend).", "entity_type");
    }

    public static string ReasonName(DestroyReason r) => r switch
    {
        DestroyReason.AddressRemoved => "address-removed",
        DestroyReason.InterfaceDown => "interface-down",
        DestroyReason.EarlyDrop => "early-drop",
        _ => r.ToString().ToLowerInvariant(),
    };

    // ---- push side: the packet path and the backend ----

    /// <summary>Counts one verdict (unary path).</summary>
    public void Count(in Verdict v)
    {
        _verdicts[(int)v.Kind].Inc();
        if (v.Kind == VerdictKind.Drop) _drops[(int)v.Reason].Inc();
        else if (v.Kind == VerdictKind.Translate) _translations[(int)v.Direction].Inc();
        if (v.Created) _newFlows.Inc();
    }

    /// <summary>Counts a batch's verdicts with one add per label (a tally on the stack, then one interlocked add each).</summary>
    public void Count(Verdict[] verdicts)
    {
        Span<long> kinds = stackalloc long[4];
        Span<long> drops = stackalloc long[_drops.Length];
        Span<long> dirs = stackalloc long[2];
        long created = 0;
        foreach (ref readonly var v in verdicts.AsSpan())
        {
            kinds[(int)v.Kind]++;
            if (v.Kind == VerdictKind.Drop) drops[(int)v.Reason]++;
            else if (v.Kind == VerdictKind.Translate) dirs[(int)v.Direction]++;
            if (v.Created) created++;
        }
        for (int i = 0; i < kinds.Length; i++) if (kinds[i] > 0) _verdicts[i].Inc(kinds[i]);
        for (int i = 0; i < drops.Length; i++) if (drops[i] > 0) _drops[i].Inc(drops[i]);
        for (int i = 0; i < dirs.Length; i++) if (dirs[i] > 0) _translations[i].Inc(dirs[i]);
        if (created > 0) _newFlows.Inc(created);
    }

    public void ObserveUnary(double seconds, bool created)
    {
        _unaryLatency.Observe(seconds);
        if (created && !_backendTimesAllocations) _allocation.Observe(seconds);
    }

    private volatile bool _backendTimesAllocations;

    public void ObserveBatch(double seconds, int size)
    {
        _batchLatency.Observe(seconds);
        _batchSize.Observe(size);
    }

    /// <summary>
    /// For a backend that times its allocations itself (the cluster's conntrack entities: streamed new flows too);
    /// from then on unary verdicts no longer stand in for them.
    /// </summary>
    public void ObserveAllocation(TimeSpan duration)
    {
        _backendTimesAllocations = true;
        _allocation.Observe(duration.TotalSeconds);
    }

    /// <summary>
    /// For a persistent backend: one journal write of <paramref name="events"/> events to <paramref name="journal"/>,
    /// of which <paramref name="rejected"/> atomic writes were refused, or which <paramref name="failed"/> whole.
    /// </summary>
    public void ObserveJournalWrite(string journal, TimeSpan duration, int events, int rejected = 0, bool failed = false)
    {
        var s = _journals.GetOrAdd(journal, j => new JournalSeries(_journalWrite.WithLabels(j), _journalBatch.WithLabels(j),
            _journalFailures.WithLabels(j, "failed"), _journalFailures.WithLabels(j, "rejected")));
        s.Duration.Observe(duration.TotalSeconds);
        s.Events.Observe(events);
        if (failed) s.Failed.Inc();
        if (rejected > 0) s.Rejected.Inc(rejected);
    }

    private sealed record JournalSeries(Histogram.Child Duration, Histogram.Child Events, Counter.Child Failed, Counter.Child Rejected);

    public void CountDestroyed(DestroyReason reason) => _destroyed[(int)reason].Inc();

    /// <summary>A call answered UNAVAILABLE because the cluster did not answer in time (rare: the label is resolved per call).</summary>
    public void CountRequestTimeout(string method) => _requestTimeouts.WithLabels(method).Inc();

    private Counter.Child? _evCreate, _evDelete, _evExhausted;

    internal void CountEvent(Events.NatEventType type, long n = 1)
    {
        var c = type switch
        {
            Events.NatEventType.SessionCreate => _evCreate ??= _natEvents.WithLabels("session_create"),
            Events.NatEventType.SessionDelete => _evDelete ??= _natEvents.WithLabels("session_delete"),
            _ => _evExhausted ??= _natEvents.WithLabels("ports_exhausted"),
        };
        c.Inc(n);
    }

    internal void SetReady(bool ready) => _ready.Set(ready ? 1 : 0);
}
