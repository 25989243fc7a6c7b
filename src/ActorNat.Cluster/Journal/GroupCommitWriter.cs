using System.Data.Common;
using ActorNat.Cluster.Fencing;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// A node's one writer to its journal database: a thread of its own (never an Akka dispatcher's) with one connection,
/// taking everything queued since its last commit (from every persistent actor and both journals of the node) as one
/// transaction, acknowledging each request once that transaction has committed. So a commit, and its fsync, is paid
/// once per tick of the writer, not once per event; an idle writer commits a lone request at once (no timer, no
/// added latency). A transaction that fails is retried request by request, each alone, so one bad request (a sequence
/// number another incarnation already wrote) fails only itself. A fenced node writes nothing.
/// </summary>
public sealed class GroupCommitWriter : IDisposable
{
    private abstract class Job
    {
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public abstract int Rows { get; }
        /// <summary>Refused while the node is fenced (events, deletions); creating a table is not.</summary>
        public bool Fenced = true;
        public abstract void Run(JournalDialect d, DbConnection c, DbTransaction tx);
    }

    private sealed class WriteJob(IReadOnlyList<JournalRow> rows) : Job
    {
        public override int Rows => rows.Count;
        public override void Run(JournalDialect d, DbConnection c, DbTransaction tx) => d.Insert(c, tx, rows);
    }

    private sealed class CommandJob(Action<DbCommand> prepare) : Job
    {
        public override int Rows => 0;
        public override void Run(JournalDialect d, DbConnection c, DbTransaction tx)
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            prepare(cmd);
            cmd.ExecuteNonQuery();
        }
    }

    private readonly JournalDialect _dialect;
    private readonly Func<string?> _refusal;
    private readonly object _gate = new();
    private List<Job> _queue = [];
    private bool _stopped;
    private readonly Thread _thread;
    private DbConnection? _connection;
    private long _transactions, _rows, _requests;

    public GroupCommitWriter(JournalDialect dialect, Func<string?> refusal)
    {
        _dialect = dialect;
        _refusal = refusal;
        _thread = new Thread(Loop) { IsBackground = true, Name = "actornat-journal-writer" };
        _thread.Start();
    }

    public JournalDialect Dialect => _dialect;

    /// <summary>Transactions committed, rows and requests they carried (rows per transaction is the grouping won).</summary>
    public (long Transactions, long Rows, long Requests) Stats =>
        (Interlocked.Read(ref _transactions), Interlocked.Read(ref _rows), Interlocked.Read(ref _requests));

    /// <summary>Completes once every row is committed (durable), or fails with the reason none of them is.</summary>
    public Task Write(IReadOnlyList<JournalRow> rows) => Enqueue(new WriteJob(rows));

    /// <summary>A statement run in the writer's order (after every write queued before it): table creation, deletion.</summary>
    public Task Execute(Action<DbCommand> prepare, bool fenced = true) => Enqueue(new CommandJob(prepare) { Fenced = fenced });

    private Task Enqueue(Job job)
    {
        lock (_gate)
        {
            if (_stopped) return Task.FromException(new ObjectDisposedException(nameof(GroupCommitWriter), "the journal writer has stopped"));
            _queue.Add(job);
            if (_queue.Count == 1) Monitor.Pulse(_gate);
        }
        return job.Done.Task;
    }

    private void Loop()
    {
        while (true)
        {
            List<Job> batch;
            lock (_gate)
            {
                while (_queue.Count == 0 && !_stopped) Monitor.Wait(_gate);
                if (_queue.Count == 0) return; // stopped and drained
                batch = _queue;
                _queue = new List<Job>(batch.Count);
            }
            if (_refusal() is { } refusal)
            {
                var fenced = new NodeFencedException(refusal);
                foreach (var j in batch)
                    if (j.Fenced) j.Done.TrySetException(fenced);
                batch.RemoveAll(j => j.Fenced);
                if (batch.Count == 0) continue;
            }
            if (TryCommit(batch, out var error))
            {
                foreach (var j in batch) j.Done.TrySetResult();
            }
            else if (batch.Count == 1)
            {
                batch[0].Done.TrySetException(error!);
            }
            else
            {
                foreach (var j in batch)
                {
                    if (TryCommit([j], out var alone)) j.Done.TrySetResult();
                    else j.Done.TrySetException(alone!);
                }
            }
        }
    }

    private bool TryCommit(List<Job> jobs, out Exception? error)
    {
        DbTransaction? tx = null;
        try
        {
            var c = Connection();
            tx = c.BeginTransaction();
            int rows = 0;
            foreach (var j in jobs)
            {
                j.Run(_dialect, c, tx);
                rows += j.Rows;
            }
            tx.Commit();
            tx.Dispose();
            Interlocked.Increment(ref _transactions);
            Interlocked.Add(ref _rows, rows);
            Interlocked.Add(ref _requests, jobs.Count);
            error = null;
            return true;
        }
        catch (Exception e)
        {
            try { tx?.Rollback(); } catch (Exception) { /* the connection is dropped below */ }
            tx?.Dispose();
            // A fresh connection for the next attempt: this one may be broken (server gone, file unwritable).
            _connection?.Dispose();
            _connection = null;
            error = e;
            return false;
        }
    }

    private DbConnection Connection()
    {
        if (_connection is { State: System.Data.ConnectionState.Open } open) return open;
        _connection?.Dispose();
        _connection = null;
        var c = _dialect.NewConnection();
        try
        {
            c.Open();
            _dialect.PrepareWriter(c);
        }
        catch
        {
            c.Dispose();
            throw;
        }
        return _connection = c;
    }

    /// <summary>Commits what is queued, then stops; later requests fail.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            Monitor.PulseAll(_gate);
        }
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(30));
        _connection?.Dispose();
    }
}
