using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using ActorNat.Cluster.Messages;

namespace ActorNat.Cluster.Hosting;

/// <summary>
/// Start-up: every pool that has a journal is woken (recovered) before the node calls itself ready, so the first
/// `conntrack -C` after ready counts the whole table and the first packets do not wait for recoveries. The pools are
/// found in the journal itself (its persistence ids "pool-…": read from the table, or with Akka.Persistence.Sql's read
/// journal when that plugin writes it); each is asked for one entry,
/// which it answers once recovered, wherever sharding places it.
/// </summary>
public static class PoolWarmup
{
    public const string PoolPrefix = "pool-";

    /// <summary>How many pools were woken. Nothing to do with the in-memory journal (nothing survives a restart).</summary>
    public static async Task<int> WakeRecordedPoolsAsync(ActorSystem system, NatNodeContext ctx, CancellationToken ct)
    {
        var db = Database.Parse(ctx.Options.Database);
        if (db.Kind == "memory") return 0;
        IReadOnlyList<string> ids;
        if (ctx.Options.Journal == "actornat")
        {
            ids = await Journal.JournalQueries.PersistenceIdsAsync(db, PoolPrefix, ct).WaitAsync(ctx.Options.AskTimeout * 3, ct).ConfigureAwait(false);
        }
        else
        {
            var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
            ids = await journal.CurrentPersistenceIds()
                .Where(id => id.StartsWith(PoolPrefix, StringComparison.Ordinal))
                .RunWith(Sink.Seq<string>(), system.Materializer()).WaitAsync(ctx.Options.AskTimeout * 3, ct).ConfigureAwait(false);
        }
        var none = new EntryFilter();
        // A few at a time: each recovery reads its pool's journal.
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(ids.Select(async id =>
        {
            await gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                var pool = id[PoolPrefix.Length..];
                await ctx.PoolRegion.Ask<EntryList>(new ListEntries { Pool = pool, Filter = none, Limit = 1 }, ctx.Options.AskTimeout * 3, ct).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);
        return ids.Count;
    }
}
