using ActorNat.Core.Conntrack;
using Microsoft.Extensions.Logging;

namespace ActorNat.Node.Metrics;

/// <summary>
/// The kernel's "nf_conntrack: table full, dropping packet" (net_warn_ratelimited), for table-full verdicts this node
/// answered, whichever backend decided them: at most one line per <see cref="Every"/>, with how many drops it covers.
/// The count of every drop is actornat_drops_total{reason="table-full"} and `conntrack -S` drop.
/// </summary>
public sealed class TableFullLog(ILogger? log)
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(5);
    private long _pending, _nextAt;

    public void Dropped(int n = 1)
    {
        if (log is null) return;
        long pending = Interlocked.Add(ref _pending, n);
        long now = Environment.TickCount64, next = Interlocked.Read(ref _nextAt);
        if (now < next || Interlocked.CompareExchange(ref _nextAt, now + (long)Every.TotalMilliseconds, next) != next) return;
        pending = Interlocked.Exchange(ref _pending, 0);
        log.LogWarning("{Message} ({Count} packets since the last such line; raise net.netfilter.nf_conntrack_max or find the flood)",
            ConntrackLimit.TableFullMessage, pending);
    }
}
