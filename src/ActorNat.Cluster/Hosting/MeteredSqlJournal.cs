using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Sql.Journal;
using ActorNat.Cluster.Fencing;

namespace ActorNat.Cluster.Hosting;

/// <summary>
/// Akka.Persistence.Sql's journal, timed where writes really happen: each <see cref="WriteMessagesAsync"/> (one
/// WriteMessages request: the events one persistent actor handed over together) from the call until the database
/// acknowledged, with how many events it carried. The SQL journal's own write queue may put several such requests into
/// one round trip (batch-size), so the time includes waiting in that queue: it is what a persisting actor waits.
/// Registered as the journal plugin's class by <see cref="ActorNatHosting"/> (SQLite and PostgreSQL alike).
/// </summary>
public sealed class MeteredSqlJournal : SqlWriteJournal
{
    /// <summary>Key in the plugin's configuration naming it in the metrics ("events", "sharding").</summary>
    public const string MeterNameKey = "actornat-meter-name";

    private readonly JournalMeter _meter;
    private readonly JournalFence _fence;
    private readonly string _name;

    public MeteredSqlJournal(Akka.Configuration.Config journalConfig) : base(journalConfig)
    {
        _meter = JournalMeter.Get(Context.System);
        _fence = JournalFence.Get(Context.System);
        _name = journalConfig.GetString(MeterNameKey, "events");
        _failures = new Journal.JournalFailureLog(Context.GetLogger(), _name); // the logger taken here: the write path continues off the actor's thread
    }

    private readonly Journal.JournalFailureLog _failures;

    protected override async Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        // Materialised once: the base class enumerates it again, and a lazy sequence must not be read twice.
        // A fenced node writes nothing, not even what its actors queued before it froze: another incarnation may be
        // writing the same journals now. The whole request fails (the persisting actors stop).
        if (_fence.Refusal is { } refusal) throw new NodeFencedException(refusal);
        var writes = messages as IReadOnlyCollection<AtomicWrite> ?? messages.ToList();
        int events = 0;
        foreach (var w in writes) events += w.Size;
        long start = Stopwatch.GetTimestamp();
        IImmutableList<Exception> result;
        try
        {
            result = await base.WriteMessagesAsync(writes, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _meter.Record(new JournalWrite(_name, Stopwatch.GetElapsedTime(start), events, 0, Failed: true));
            _meter.Failed(_name, e);
            _failures.Log(e);
            throw;
        }
        _meter.Succeeded();
        int rejected = 0;
        if (result is not null)
            foreach (var e in result) if (e is not null) rejected++;
        _meter.Record(new JournalWrite(_name, Stopwatch.GetElapsedTime(start), events, rejected, Failed: false));
        return result!; // null: every write succeeded (the journal contract)
    }
}
