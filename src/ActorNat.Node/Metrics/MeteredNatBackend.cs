using System.Diagnostics;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Node.Events;

namespace ActorNat.Node.Metrics;

/// <summary>
/// Wraps the node's backend (whichever it is) on the way in from gRPC: times each verdict, counts verdicts, new flows,
/// translations and drops by reason, and reports ports-exhausted drops to the event log. Two timestamps and a few
/// interlocked adds per call; a batch is tallied on the stack and added once per label.
/// </summary>
public sealed class MeteredNatBackend(INatBackend inner, NatMetrics metrics, INatEventSink events, Func<FiveTuple, IPv4>? natIpOf = null,
    TableFullLog? tableFull = null) : INatBackend, IAtomicConfig
{
    /// <summary>The backend that really decides (the <see cref="LocalNatBackend"/> or the cluster backend).</summary>
    public INatBackend Inner => inner;

    public async ValueTask<Verdict> TranslateAsync(Packet packet, CancellationToken ct = default)
    {
        long start = Stopwatch.GetTimestamp();
        var v = await inner.TranslateAsync(packet, ct).ConfigureAwait(false);
        metrics.ObserveUnary(Stopwatch.GetElapsedTime(start).TotalSeconds, v.Created);
        metrics.Count(v);
        if (v.Reason == DropReason.PortsExhausted) Exhausted(packet.Tuple);
        else if (v.Reason == DropReason.TableFull) tableFull?.Dropped();
        return v;
    }

    public async ValueTask<Verdict[]> TranslateBatchAsync(IReadOnlyList<Packet> packets, CancellationToken ct = default)
    {
        long start = Stopwatch.GetTimestamp();
        var verdicts = await inner.TranslateBatchAsync(packets, ct).ConfigureAwait(false);
        metrics.ObserveBatch(Stopwatch.GetElapsedTime(start).TotalSeconds, verdicts.Length);
        metrics.Count(verdicts);
        for (int i = 0; i < verdicts.Length; i++)
            if (verdicts[i].Reason == DropReason.PortsExhausted) Exhausted(packets[i].Tuple);
            else if (verdicts[i].Reason == DropReason.TableFull) tableFull?.Dropped();
        return verdicts;
    }

    private void Exhausted(in FiveTuple tuple)
    {
        IPv4 ip = default;
        try
        {
            if (natIpOf is not null) ip = natIpOf(tuple);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NullReferenceException)
        {
            // the configuration changed under the lookup: report the NAT IP as unknown
        }
        events.PortsExhausted(tuple, ip);
    }

    public Task ApplyConfigAsync(string line, CancellationToken ct = default) => inner.ApplyConfigAsync(line, ct);

    /// <summary>All or none when the backend can; otherwise line by line (a backend without <see cref="IAtomicConfig"/>).</summary>
    public async Task ApplyConfigAsync(IReadOnlyList<string> lines, CancellationToken ct = default)
    {
        if (inner is IAtomicConfig atomic)
        {
            await atomic.ApplyConfigAsync(lines, ct);
            return;
        }
        for (int i = 0; i < lines.Count; i++)
        {
            try
            {
                await inner.ApplyConfigAsync(lines[i], ct);
            }
            catch (Exception e) when (e is ActorNat.Core.ParseException or InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
            {
                throw new ConfigLineException(i, e);
            }
        }
    }
    public Task<ConfigSnapshot> GetConfigAsync(CancellationToken ct = default) => inner.GetConfigAsync(ct);
    public Task<IReadOnlyList<ConntrackRecord>> ListAsync(ConntrackFilter filter, CancellationToken ct = default) => inner.ListAsync(filter, ct);
    public Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct = default) => inner.DeleteAsync(filter, ct);
    public Task<long> CountAsync(CancellationToken ct = default) => inner.CountAsync(ct);
    public Task<IReadOnlyList<(string Name, long Value)>> StatsAsync(CancellationToken ct = default) => inner.StatsAsync(ct);
}

/// <summary>Hooks the in-process backend's conntrack table: create/delete events and destroy reasons (under its lock, cheap).</summary>
public static class LocalBackendHooks
{
    public static void Attach(LocalNatBackend backend, NatMetrics metrics, INatEventSink events)
    {
        var table = backend.Engine.Table;
        table.Created += e =>
        {
            if (!e.Translated) return; // not a NAT session
            metrics.CountEvent(NatEventType.SessionCreate);
            if (events.Enabled)
                events.Publish(new NatEvent(NatEventType.SessionCreate, DateTimeOffset.UtcNow, e.Id, e.Original, e.Reply, null, e.NatIp, 0));
        };
        table.Destroyed += (e, reason) =>
        {
            metrics.CountDestroyed(reason);
            if (!e.Translated) return;
            metrics.CountEvent(NatEventType.SessionDelete);
            if (events.Enabled)
                events.Publish(new NatEvent(NatEventType.SessionDelete, DateTimeOffset.UtcNow, e.Id, e.Original, e.Reply, NatMetrics.ReasonName(reason), e.NatIp, 0));
        };
    }

    /// <summary>The NAT IP a dropped first packet would have used (read outside the backend's lock: best effort).</summary>
    public static Func<FiveTuple, IPv4> NatIpResolver(LocalNatBackend backend) => tuple =>
    {
        var d = NatPolicy.Decide(backend.Engine.Topology, backend.Engine.Rules, tuple);
        return d.Kind == DecisionKind.Drop ? default : d.Range.MinIp;
    };
}
