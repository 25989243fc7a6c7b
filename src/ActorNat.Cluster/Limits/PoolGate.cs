using Akka.Actor;
using ActorNat.Cluster.Messages;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using CoreVerdict = ActorNat.Core.Engine.Verdict;

namespace ActorNat.Cluster.Limits;

/// <summary>
/// A pool's admission of new entries under nf_conntrack_max (<see cref="TableLimit"/>). Below the limit a new entry is
/// admitted at once. At it, the pool drops one of its own unassured entries to make room (the kernel's early_drop looks
/// only at the hash buckets near the new tuple; a pool is that neighbourhood here), the oldest first; when it holds
/// none, the packet is dropped as table-full. The candidates are the pool's unassured entries, oldest first, listed
/// when the table is full and the list is used up (nothing is kept while it is not full); one that became assured or
/// went since is skipped (the kernel's assured bit is sticky).
/// </summary>
public sealed class PoolGate(NatNodeContext ctx, PoolGate.Lookup lookup, Func<IEnumerable<ConntrackEntry>> held, Action<ConntrackEntry> earlyDrop)
{
    /// <summary>Candidates looked at per new entry, as the kernel bounds its scan.</summary>
    private const int Scan = 64;
    /// <summary>Entries dropped at most for one newcomer while the cluster is over its limit.</summary>
    private const int MaxPerNewcomer = 2;
    private readonly Queue<(FiveTuple Reply, ulong Id)> _made = new();

    public delegate bool Lookup(in FiveTuple reply, out ConntrackEntry entry);

    /// <summary>
    /// Whether the pool may make the entry <paramref name="m"/> asks for. When it may not, the sender has its answer
    /// (a table-full verdict, or a refused allocation its entity turns into one) and the drop is counted.
    /// </summary>
    public bool Admit(Allocate m, IActorRef sender)
    {
        if (!ctx.Limits.IsFull) return true;
        // Over the limit (members admitted at once while their counts were in flight): more than one goes per newcomer,
        // so the table comes back to the limit instead of staying above it.
        long excess = ctx.Limits.Excess;
        int dropped = 0;
        bool rebuilt = false;
        for (int n = 0; n < Scan && dropped < Math.Min(excess, MaxPerNewcomer); n++)
        {
            if (!_made.TryDequeue(out var c))
            {
                if (rebuilt) break;
                Rebuild(); // the pool's unassured entries now, oldest first: only while the table is full
                rebuilt = true;
                continue;
            }
            if (!lookup(c.Reply, out var e) || e.Id != c.Id || !ConntrackLimit.MayEarlyDrop(e.State)) continue;
            earlyDrop(e);
            // earlyDrop is the pool's eviction: it also takes the flow's mapping out of the bysource index.
            Interlocked.Increment(ref ctx.Counters.EarlyDrop);
            dropped++;
        }
        if (dropped > 0) return true;
        Interlocked.Increment(ref ctx.Counters.TableFull);
        if (m.AnswerVerdict)
        {
            Interlocked.Increment(ref ctx.Counters.Drop);
            var verdict = CoreVerdict.Dropped(DropReason.TableFull, m.Original.ToCore()).ToMsg();
            verdict.RequestId = m.RequestId;
            sender.Tell(verdict);
        }
        else sender.Tell(new Allocated { Ok = false, TableFull = true });
        return false;
    }

    private void Rebuild()
    {
        var keep = held().Where(e => ConntrackLimit.MayEarlyDrop(e.State)).OrderBy(e => e.Id).Select(e => (e.Reply, e.Id)).ToList();
        _made.Clear();
        foreach (var k in keep) _made.Enqueue(k);
    }
}
