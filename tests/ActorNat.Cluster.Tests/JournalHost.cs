using Akka.Actor;
using Akka.Hosting;
using Akka.Persistence;
using Akka.Persistence.Hosting;
using Akka.Persistence.Sql.Hosting;
using ActorNat.Cluster.Hosting;
using ActorNat.Cluster.Journal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// An actor system with nothing but a journal, configured as a node configures its own: Akka.Persistence.Sql's plugin
/// ("akka") or ActorNat's group-commit journal in its place ("actornat"), on a real SQLite file or PostgreSQL database.
/// </summary>
public sealed class JournalHost : IAsyncDisposable
{
    private readonly IHost _host;
    private JournalHost(IHost host) => _host = host;

    public ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();

    public static async Task<JournalHost> Start(string database, string journal)
    {
        var db = Database.Parse(database);
        var host = new HostBuilder().ConfigureServices(s => s.AddAkka("journal-test", b =>
        {
            if (db.Kind == "memory")
            {
                b.WithInMemoryJournal();
                if (journal == "actornat") b.AddHocon(JournalPlugins.InMemory(), HoconAddMode.Prepend);
                return;
            }
            db.Prepare();
            b.WithSqlPersistence(db.ConnectionString, db.ProviderName, PersistenceMode.Journal, autoInitialize: true);
            if (journal == "actornat") b.AddHocon(JournalPlugins.GroupCommit(db), HoconAddMode.Prepend);
        })).Build();
        await host.StartAsync();
        return new JournalHost(host);
    }

    public IActorRef Recorder(string id, TaskCompletionSource<Exception>? failed = null) =>
        System.ActorOf(Props.Create(() => new Recorder(id, failed)));

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { await _host.StopAsync(cts.Token); } catch (OperationCanceledException) { }
        _host.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}

public sealed record Write(params string[] Events);
public sealed record Written(long SequenceNr);
public sealed record GetState;
public sealed record State(string[] Events, long SequenceNr);
public sealed record DeleteTo(long SequenceNr);
public sealed record Deleted(long SequenceNr);

/// <summary>A persistent actor that records strings: each <see cref="Write"/> answered once all its events are durable.</summary>
public sealed class Recorder : ReceivePersistentActor
{
    private readonly List<string> _events = [];
    private readonly TaskCompletionSource<Exception>? _failed;
    private IActorRef _deleteRequester = ActorRefs.Nobody;

    public Recorder(string id, TaskCompletionSource<Exception>? failed)
    {
        PersistenceId = id;
        _failed = failed;
        Recover<string>(_events.Add);
        Command<Write>(w =>
        {
            var sender = Sender;
            int left = w.Events.Length;
            PersistAll(w.Events, e =>
            {
                _events.Add(e);
                if (--left == 0) sender.Tell(new Written(LastSequenceNr));
            });
        });
        Command<GetState>(_ => Sender.Tell(new State(_events.ToArray(), LastSequenceNr)));
        Command<DeleteTo>(d =>
        {
            _deleteRequester = Sender;
            DeleteMessages(d.SequenceNr);
        });
        Command<DeleteMessagesSuccess>(s => _deleteRequester.Tell(new Deleted(s.ToSequenceNr)));
        Command<DeleteMessagesFailure>(f => _deleteRequester.Tell(new Status.Failure(f.Cause)));
    }

    public override string PersistenceId { get; }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _failed?.TrySetResult(cause);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }
}
