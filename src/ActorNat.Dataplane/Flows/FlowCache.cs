using ActorNat.Core.Net;

namespace ActorNat.Dataplane.Flows;

/// <summary>
/// One conntrack entry as the data plane knows it from the cluster's verdicts: both tuples, the entry's id, and whether
/// its other packets may be rewritten locally (offloaded) without asking the cluster. The cluster's entry actor stays
/// the owner: the cache only repeats the mapping the cluster gave and reports its activity back (see docs/DATAPLANE.md).
/// </summary>
public sealed class Flow
{
    public required FiveTuple Original { get; set; }
    public required FiveTuple Reply { get; set; }
    public ulong ConntrackId { get; set; }
    /// <summary>Established in the cluster (TCP ESTABLISHED and ASSURED; UDP ASSURED; ICMP replied): data packets stay local.</summary>
    public bool Offloaded { get; set; }
    /// <summary>Packets of this flow waiting for the cluster's verdict: later ones follow them there, so order holds.</summary>
    public int Pending { get; set; }
    /// <summary>The entry's timeout in the cluster (ms); the cache forgets the flow after this long without a packet.</summary>
    public long TimeoutMs { get; set; } = 120_000;
    public long LastSeenMs { get; set; }
    /// <summary>Forwarded from the cache since the last refresh was sent.</summary>
    public bool Active { get; set; }
    /// <summary>The last packet forwarded from the cache (pre-NAT), sent to the cluster as the refresh of its timeout.</summary>
    public FiveTuple LastTuple { get; set; }
    public byte LastFlags { get; set; }
    public uint LastSeq { get; set; }

    /// <summary>The tuple a packet of this flow is rewritten to: the other direction's tuple, reversed.</summary>
    public FiveTuple Target(in FiveTuple packet)
    {
        bool original = packet == Original;
        var other = original ? Reply : Original;
        return packet.Proto == Protocol.Icmp
            ? FiveTuple.Icmp(other.Dst, other.Src, packet.IcmpType, packet.IcmpCode, other.IcmpId)
            : new FiveTuple(packet.Proto, other.Dst, other.Src, other.DPort, other.SPort);
    }
}

/// <summary>
/// The flows by both of their tuples (as packets carry them before NAT). Thread-safe by one lock: the queue thread reads
/// it for every packet, the cluster link updates it with verdicts.
/// </summary>
public sealed class FlowCache
{
    private readonly Dictionary<FiveTuple, Flow> _byTuple = [];
    public object Sync { get; } = new();

    public int Count { get { lock (Sync) return _byTuple.Count / 2; } }

    /// <summary>Caller holds <see cref="Sync"/>.</summary>
    public Flow? Find(in FiveTuple tuple) => _byTuple.GetValueOrDefault(tuple);

    /// <summary>The flow with these tuples, created or updated (an entry re-created with another mapping replaces the old one). Caller holds <see cref="Sync"/>.</summary>
    public Flow Upsert(in FiveTuple original, in FiveTuple reply, ulong conntrackId, long nowMs)
    {
        var flow = _byTuple.GetValueOrDefault(original);
        if (flow is not null && (flow.Reply != reply || flow.ConntrackId != conntrackId))
        {
            Remove(flow);
            var pending = flow.Pending;
            flow = null;
            if (pending > 0) { flow = NewFlow(original, reply, conntrackId, nowMs); flow.Pending = pending; }
        }
        if (_byTuple.GetValueOrDefault(reply) is { } clash && clash != flow) Remove(clash);
        flow ??= NewFlow(original, reply, conntrackId, nowMs);
        _byTuple[original] = flow;
        _byTuple[reply] = flow;
        return flow;
    }

    private static Flow NewFlow(in FiveTuple original, in FiveTuple reply, ulong id, long nowMs) =>
        new() { Original = original, Reply = reply, ConntrackId = id, LastSeenMs = nowMs };

    /// <summary>Caller holds <see cref="Sync"/>.</summary>
    public void Remove(Flow flow)
    {
        if (_byTuple.GetValueOrDefault(flow.Original) == flow) _byTuple.Remove(flow.Original);
        if (_byTuple.GetValueOrDefault(flow.Reply) == flow) _byTuple.Remove(flow.Reply);
    }

    /// <summary>Forgets idle flows past their timeout and returns the offloaded ones active since the last call (to refresh). Caller holds <see cref="Sync"/>.</summary>
    public List<Flow> Sweep(long nowMs, out int expired)
    {
        var active = new List<Flow>();
        var dead = new List<Flow>();
        foreach (var (tuple, flow) in _byTuple)
        {
            if (tuple != flow.Original) continue; // each flow once
            if (flow.Pending == 0 && nowMs - flow.LastSeenMs > flow.TimeoutMs) dead.Add(flow);
            else if (flow.Active && flow.Offloaded && flow.Pending == 0) { flow.Active = false; active.Add(flow); }
        }
        foreach (var f in dead) Remove(f);
        expired = dead.Count;
        return active;
    }
}
