using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using ActorNat.Cluster.Fencing;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// The `memory` database's journal: each persistence id's events in a list of its own, appended under that list's lock
/// (uncontended: one writer per persistence id), completed synchronously. Akka's MemoryJournal keeps an ImmutableList
/// per persistence id behind shared locks, whose allocations and lock contention were 28 % of a node's new-flow work
/// (docs/PERFORMANCE.md, issue 11 round 1). Nothing survives the process, as before; a fenced node refuses writes as
/// the SQL journal does.
/// </summary>
public sealed class InMemoryJournal : AsyncWriteJournal
{
    private sealed class Log
    {
        public readonly List<IPersistentRepresentation> Events = [];
        public long Highest;
    }

    private readonly ConcurrentDictionary<string, Log> _logs = new();
    private readonly JournalFence _fence = JournalFence.Get(Context.System);

    private Log For(string persistenceId) => _logs.GetOrAdd(persistenceId, _ => new Log());

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        if (_fence.Refusal is { } refusal) return Task.FromException<IImmutableList<Exception>>(new NodeFencedException(refusal));
        foreach (var write in messages)
        {
            var log = For(write.PersistenceId);
            lock (log)
            {
                foreach (var p in (IImmutableList<IPersistentRepresentation>)write.Payload)
                {
                    log.Events.Add(p);
                    log.Highest = Math.Max(log.Highest, p.SequenceNr);
                }
            }
        }
        return Task.FromResult<IImmutableList<Exception>>(null!); // every write succeeded (the journal contract)
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        if (!_logs.TryGetValue(persistenceId, out var log)) return Task.CompletedTask;
        IPersistentRepresentation[] events;
        lock (log) events = log.Events.ToArray();
        long n = 0;
        foreach (var p in events)
        {
            if (n >= max || p.SequenceNr > toSequenceNr) break;
            if (p.SequenceNr < fromSequenceNr) continue;
            recoveryCallback(p);
            n++;
        }
        return Task.CompletedTask;
    }

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        if (!_logs.TryGetValue(persistenceId, out var log)) return Task.FromResult(0L);
        lock (log) return Task.FromResult(log.Highest);
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken)
    {
        if (_fence.Refusal is { } refusal) return Task.FromException(new NodeFencedException(refusal));
        if (!_logs.TryGetValue(persistenceId, out var log)) return Task.CompletedTask;
        lock (log)
        {
            int drop = 0;
            while (drop < log.Events.Count && log.Events[drop].SequenceNr <= toSequenceNr) drop++;
            log.Events.RemoveRange(0, drop); // the highest sequence number is kept apart, so it survives
        }
        return Task.CompletedTask;
    }
}
