using Akka.Actor;
using ActorNat.Cluster.Fencing;
using ActorNat.Cluster.Hosting;
using ActorNat.Cluster.Journal;
using Microsoft.Data.Sqlite;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// ActorNat's group-commit journal on real SQLite files and a real PostgreSQL server: order and replay, the highest
/// sequence number across deletion, databases written by Akka.Persistence.Sql (and back), a failing request that fails
/// alone and is reported, a fenced node that writes nothing, and the grouping itself.
/// </summary>
public sealed class GroupCommitJournalTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("actornat-journal-");

    private string Sqlite(string name = "j.db") => "sqlite:" + Path.Combine(_dir.FullName, name);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { _dir.Delete(recursive: true); } catch (IOException) { }
    }

    public static TheoryData<string> Databases() => ["sqlite", "postgres"];

    private string NewDatabase(string kind) => kind == "sqlite" ? Sqlite() : PostgresServer.Instance.NewDatabase();

    [Theory]
    [MemberData(nameof(Databases))]
    public async Task Concurrent_writers_replay_their_own_events_in_order_after_a_restart(string kind)
    {
        var database = NewDatabase(kind);
        const int actors = 40, writes = 5, perWrite = 10;
        await using (var host = await JournalHost.Start(database, "actornat"))
        {
            var recorders = Enumerable.Range(0, actors).Select(a => host.Recorder($"r-{a}")).ToArray();
            // Every actor's writes in flight at once: they meet in the writer's transactions.
            var acks = recorders.SelectMany((r, a) => Enumerable.Range(0, writes).Select(w =>
                r.Ask<Written>(new Write(Enumerable.Range(0, perWrite).Select(e => $"{a}:{w * perWrite + e}").ToArray()), Wait))).ToList();
            await Task.WhenAll(acks);
            var stats = JournalWriters.Get(host.System).Stats;
            Assert.Equal(actors * writes * perWrite, (int)stats.Rows);
        }
        await using (var host = await JournalHost.Start(database, "actornat"))
        {
            for (int a = 0; a < actors; a++)
            {
                var s = await host.Recorder($"r-{a}").Ask<State>(new GetState(), Wait);
                Assert.Equal(Enumerable.Range(0, writes * perWrite).Select(e => $"{a}:{e}"), s.Events);
                Assert.Equal(writes * perWrite, s.SequenceNr);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Databases))]
    public async Task The_highest_sequence_number_survives_deleting_every_event(string kind)
    {
        var database = NewDatabase(kind);
        await using (var host = await JournalHost.Start(database, "actornat"))
        {
            var all = host.Recorder("gone");
            var half = host.Recorder("half");
            await all.Ask<Written>(new Write("a", "b", "c"), Wait);
            await half.Ask<Written>(new Write("a", "b", "c", "d"), Wait);
            Assert.Equal(3, (await all.Ask<Deleted>(new DeleteTo(3), Wait)).SequenceNr);
            await half.Ask<Deleted>(new DeleteTo(2), Wait);
        }
        await using (var host = await JournalHost.Start(database, "actornat"))
        {
            var all = host.Recorder("gone");
            var s = await all.Ask<State>(new GetState(), Wait);
            Assert.Empty(s.Events);
            Assert.Equal(3, s.SequenceNr);
            Assert.Equal(4, (await all.Ask<Written>(new Write("d"), Wait)).SequenceNr); // never reuses 1-3
            var half = await host.Recorder("half").Ask<State>(new GetState(), Wait);
            Assert.Equal(["c", "d"], half.Events);
            Assert.Equal(4, half.SequenceNr);
        }
    }

    [Theory]
    [MemberData(nameof(Databases))]
    public async Task A_database_written_by_Akka_Persistence_Sql_replays_and_goes_on_and_back(string kind)
    {
        var database = NewDatabase(kind);
        await using (var old = await JournalHost.Start(database, "akka"))
        {
            await old.Recorder("p1").Ask<Written>(new Write("a", "b"), Wait);
            await old.Recorder("p2").Ask<Written>(new Write("x"), Wait);
        }
        await using (var host = await JournalHost.Start(database, "actornat"))
        {
            var p1 = host.Recorder("p1");
            Assert.Equal(["a", "b"], (await p1.Ask<State>(new GetState(), Wait)).Events);
            Assert.Equal(3, (await p1.Ask<Written>(new Write("c"), Wait)).SequenceNr);
            Assert.Equal(2, (await host.Recorder("p2").Ask<Written>(new Write("y"), Wait)).SequenceNr);
        }
        await using (var old = await JournalHost.Start(database, "akka"))
        {
            Assert.Equal(["a", "b", "c"], (await old.Recorder("p1").Ask<State>(new GetState(), Wait)).Events);
            var p2 = await old.Recorder("p2").Ask<State>(new GetState(), Wait);
            Assert.Equal(["x", "y"], p2.Events);
            Assert.Equal(2, p2.SequenceNr);
        }
    }

    [Fact]
    public async Task A_write_another_incarnation_got_to_first_fails_alone_and_is_reported()
    {
        var database = Sqlite();
        await using var host = await JournalHost.Start(database, "actornat");
        var writes = new System.Collections.Concurrent.ConcurrentQueue<JournalWrite>();
        JournalMeter.Get(host.System).Observe(writes.Enqueue);
        var failed = new TaskCompletionSource<Exception>();
        var loser = host.Recorder("contested", failed);
        await loser.Ask<State>(new GetState(), Wait); // recovered: nothing yet
        // Another incarnation of the same persistence id writes sequence number 1 behind this one's back.
        using (var c = new SqliteConnection(Database.Parse(database).ConnectionString))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid) VALUES (1, 0, 'contested', 1, x'00', '', 1, 'other')";
            cmd.ExecuteNonQuery();
        }
        var bystander = host.Recorder("bystander");
        loser.Tell(new Write("mine"));
        var ok = bystander.Ask<Written>(new Write("fine"), Wait);
        var cause = await failed.Task.WaitAsync(Wait);
        Assert.IsType<SqliteException>(cause);
        Assert.Equal(1, (await ok).SequenceNr);
        // Reported: the failed request in the journal's metrics (readiness off until a write succeeds), the other not.
        Assert.Single(writes, w => w.Failed && w.Events == 1);
        Assert.Contains(writes, w => !w.Failed && w.Events == 1);
    }

    [Fact]
    public async Task A_fenced_node_writes_nothing()
    {
        var database = Sqlite();
        await using var host = await JournalHost.Start(database, "actornat");
        using var fence = new NodeFence(TimeSpan.FromSeconds(30));
        JournalFence.Get(host.System).Use(fence);
        fence.SetMinority(true);
        var failed = new TaskCompletionSource<Exception>();
        host.Recorder("fenced", failed).Tell(new Write("never"));
        Assert.IsType<NodeFencedException>(await failed.Task.WaitAsync(Wait));
        fence.SetMinority(false);
        var s = await host.Recorder("fenced").Ask<Written>(new Write("later"), Wait);
        Assert.Equal(1, s.SequenceNr); // the refused event never reached the table
    }

    [Fact]
    public async Task Requests_queued_during_a_commit_share_the_next_transaction_and_a_bad_one_fails_alone()
    {
        var db = Database.Parse(Sqlite());
        db.Prepare();
        using var writer = new GroupCommitWriter(JournalDialect.For("sqlite", db.ConnectionString, syncEveryCommit: true), () => null);
        var d = writer.Dialect;
        await writer.Execute(cmd => cmd.CommandText = d.CreateTable("journal"));
        static JournalRow Row(string pid, long seq) => new("journal", pid, seq, [1, 2], "m", 1, "w", 1);
        await writer.Write([Row("a", 1)]);

        var before = writer.Stats;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var blocker = writer.Execute(cmd =>
        {
            entered.Set();
            release.Wait(Wait); // the writer is busy with this "commit" while the others queue
            cmd.CommandText = "SELECT 1";
        });
        Assert.True(entered.Wait(Wait));
        var good = Enumerable.Range(0, 100).Select(i => writer.Write([Row("b", i + 1)])).ToList();
        var duplicate = writer.Write([Row("a", 1)]);
        var after = writer.Write([Row("c", 1), Row("c", 2)]);
        release.Set();
        await blocker;
        await Task.WhenAll(good);
        await after;
        var e = await Assert.ThrowsAsync<SqliteException>(() => duplicate);
        Assert.Contains("UNIQUE", e.Message);
        var stats = writer.Stats;
        // The blocker's transaction, then the 102 together failed (rolled back, not counted) and were retried one by
        // one: 101 committed alone, the duplicate failed alone.
        Assert.Equal(before.Requests + 1 + 101, stats.Requests);
        Assert.Equal(before.Rows + 102, stats.Rows);

        // Without a bad request, everything queued during a commit is one transaction.
        before = writer.Stats;
        entered.Reset();
        release.Reset();
        blocker = writer.Execute(cmd =>
        {
            entered.Set();
            release.Wait(Wait);
            cmd.CommandText = "SELECT 1";
        });
        Assert.True(entered.Wait(Wait));
        var grouped = Enumerable.Range(0, 200).Select(i => writer.Write([Row("g", i + 1)])).ToList();
        release.Set();
        await blocker;
        await Task.WhenAll(grouped);
        stats = writer.Stats;
        Assert.Equal(before.Transactions + 2, stats.Transactions); // the blocker's, and one for all 200
        Assert.Equal(before.Rows + 200, stats.Rows);
    }

    [Fact]
    public async Task The_in_memory_journal_replays_deletes_and_keeps_the_highest_number()
    {
        await using var host = await JournalHost.Start("memory", "actornat");
        var r = host.Recorder("m");
        await r.Ask<Written>(new Write("a", "b", "c"), Wait);
        await r.Ask<Deleted>(new DeleteTo(2), Wait);
        await r.GracefulStop(Wait);
        var again = await host.Recorder("m").Ask<State>(new GetState(), Wait);
        Assert.Equal(["c"], again.Events);
        Assert.Equal(3, again.SequenceNr);
        var all = host.Recorder("m2");
        await all.Ask<Written>(new Write("x"), Wait);
        await all.Ask<Deleted>(new DeleteTo(1), Wait);
        await all.GracefulStop(Wait);
        var m2 = host.Recorder("m2");
        Assert.Equal(2, (await m2.Ask<Written>(new Write("y"), Wait)).SequenceNr);
    }
}
