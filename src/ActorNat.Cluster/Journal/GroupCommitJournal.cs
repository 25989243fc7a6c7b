using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using ActorNat.Cluster.Fencing;
using ActorNat.Cluster.Hosting;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// ActorNat's SQL journal (SQLite or PostgreSQL) on Akka.Persistence.Sql's table: it serializes each request's events
/// on the caller's thread, hands the rows to the node's <see cref="GroupCommitWriter"/> (one transaction per tick for
/// every persistent actor of the node) and answers when they are committed. Reads run on connections of their own, off
/// the journal actor. Writes are timed in <see cref="JournalMeter"/> (a failure turns readiness off) and refused while
/// the node is fenced (<see cref="JournalFence"/>).
/// </summary>
public sealed class GroupCommitJournal : AsyncWriteJournal
{
    public const string DialectKey = "actornat-dialect";
    public const string TableKey = "actornat-table";
    public const string SynchronousKey = "actornat-sqlite-synchronous";

    private readonly GroupCommitWriter _writer;
    private readonly JournalDialect _dialect;
    private readonly string _table;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly JournalMeter _meter;
    private readonly JournalFence _fence;
    private readonly JournalFailureLog _failures;
    private readonly string _name;
    private Task _created;

    /// <summary>
    /// Each persistence id's write in flight: the highest sequence number is read after it lands (a restarted actor
    /// must not take its predecessor's last number while that write is still queued), as Akka.Persistence.Sql does.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task> _inFlight = new();

    public GroupCommitJournal(Akka.Configuration.Config config)
    {
        var kind = config.GetString(DialectKey, "sqlite");
        var sync = config.GetString(SynchronousKey, "full");
        if (sync is not ("full" or "normal"))
            throw new ArgumentException($"{SynchronousKey} = \"{sync}\": expected full or normal");
        _dialect = JournalDialect.For(kind, config.GetString("connection-string"), syncEveryCommit: sync == "full");
        _table = config.GetString(TableKey, "journal");
        _name = config.GetString(MeteredSqlJournal.MeterNameKey, "events");
        _writer = JournalWriters.Get(Context.System).For(_dialect);
        _serialization = Context.System.Serialization;
        _meter = JournalMeter.Get(Context.System);
        _fence = JournalFence.Get(Context.System);
        _failures = new JournalFailureLog(Context.GetLogger(), _name);
        _created = CreateTable();
    }

    private Task CreateTable() => _writer.Execute(cmd => cmd.CommandText = _dialect.CreateTable(_table), fenced: false);

    /// <summary>The table exists (created before anything else this journal does; tried again after a failure).</summary>
    private Task Created()
    {
        var t = Volatile.Read(ref _created);
        if (t.IsFaulted || t.IsCanceled) Volatile.Write(ref _created, t = CreateTable());
        return t;
    }

    protected override async Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        // A fenced node writes nothing, not even what its actors queued before it froze (the writer checks again).
        if (_fence.Refusal is { } refusal) throw new NodeFencedException(refusal);
        long now = DateTime.UtcNow.Ticks, start = Stopwatch.GetTimestamp();
        var rows = new List<JournalRow>();
        Exception?[]? rejected = null;
        int i = 0, events = 0, rejections = 0;
        foreach (var write in messages)
        {
            int before = rows.Count;
            try
            {
                foreach (var p in (IImmutableList<IPersistentRepresentation>)write.Payload)
                    rows.Add(JournalRow.From(_table, p, _serialization, now));
            }
            catch (Exception e)
            {
                // An event that cannot be serialized rejects its atomic write only (the actor is told, and goes on).
                rows.RemoveRange(before, rows.Count - before);
                rejected ??= new Exception?[16];
                if (i >= rejected.Length) Array.Resize(ref rejected, Math.Max(i + 1, rejected.Length * 2));
                rejected[i] = e;
                rejections++;
            }
            events += write.Size;
            i++;
        }
        try
        {
            if (_created.Status != TaskStatus.RanToCompletion) await Created().ConfigureAwait(false);
            if (rows.Count > 0) await Track(rows[0].PersistenceId, _writer.Write(rows)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _meter.Record(new JournalWrite(_name, Stopwatch.GetElapsedTime(start), events, 0, Failed: true));
            _meter.Failed(_name, e);
            _failures.Log(e);
            throw;
        }
        _meter.Succeeded();
        _meter.Record(new JournalWrite(_name, Stopwatch.GetElapsedTime(start), events, rejections, Failed: false));
        if (rejected is null) return null!; // every write succeeded (the journal contract)
        var result = new Exception?[i];
        Array.Copy(rejected, result, Math.Min(i, rejected.Length));
        return ImmutableList.CreateRange(result)!;
    }

    private Task Track(string persistenceId, Task write)
    {
        _inFlight[persistenceId] = write;
        write.ContinueWith(t => _inFlight.TryRemove(new KeyValuePair<string, Task>(persistenceId, t)),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return write;
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback) =>
        Task.Run(async () =>
        {
            await Created().ConfigureAwait(false);
            if (max <= 0 || toSequenceNr < fromSequenceNr) return;
            await using var c = _dialect.NewConnection();
            await c.OpenAsync().ConfigureAwait(false);
            await using var cmd = c.CreateCommand();
            cmd.CommandText = _dialect.ReplaySql(_table);
            JournalDialect.Param(cmd, "@p", persistenceId);
            JournalDialect.Param(cmd, "@from", fromSequenceNr);
            JournalDialect.Param(cmd, "@to", toSequenceNr);
            JournalDialect.Param(cmd, "@max", max);
            await using var r = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
            while (await r.ReadAsync().ConfigureAwait(false))
                recoveryCallback(JournalRow.ToPersistent(_serialization, persistenceId, r.GetInt64(0), (byte[])r.GetValue(1),
                    r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetInt32(3), r.GetBoolean(4),
                    r.IsDBNull(5) ? null : r.GetString(5), r.GetInt64(6)));
        });

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            await Created().ConfigureAwait(false);
            if (_inFlight.TryGetValue(persistenceId, out var pending))
                try { await pending.ConfigureAwait(false); } catch (Exception) { /* landed or not: the table says which */ }
            await using var c = _dialect.NewConnection();
            await c.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var cmd = c.CreateCommand();
            cmd.CommandText = _dialect.HighestSql(_table);
            JournalDialect.Param(cmd, "@p", persistenceId);
            JournalDialect.Param(cmd, "@from", fromSequenceNr);
            var v = await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return v is null or DBNull ? 0L : Convert.ToInt64(v);
        }, cancellationToken);

    protected override async Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken)
    {
        if (_fence.Refusal is { } refusal) throw new NodeFencedException(refusal);
        await Created().ConfigureAwait(false);
        // In the writer's order: after every event of this persistence id queued before the deletion.
        await _writer.Execute(cmd =>
        {
            cmd.CommandText = _dialect.DeleteSql(_table);
            JournalDialect.Param(cmd, "@p", persistenceId);
            JournalDialect.Param(cmd, "@to", toSequenceNr);
        }).ConfigureAwait(false);
    }
}
