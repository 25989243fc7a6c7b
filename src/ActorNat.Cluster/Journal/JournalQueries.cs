using ActorNat.Cluster.Hosting;

namespace ActorNat.Cluster.Journal;

/// <summary>Questions about the journal table asked outside any persistent actor (start-up's pool warm-up).</summary>
public static class JournalQueries
{
    /// <summary>Every persistence id of the events journal that starts with <paramref name="prefix"/>.</summary>
    public static async Task<IReadOnlyList<string>> PersistenceIdsAsync(Database db, string prefix, CancellationToken ct)
    {
        var dialect = JournalDialect.For(db.Kind, db.ConnectionString, syncEveryCommit: true);
        await using var c = dialect.NewConnection();
        await c.OpenAsync(ct).ConfigureAwait(false);
        await using (var create = c.CreateCommand())
        {
            // A fresh database: the journal actor may not have created its table yet (it starts with the first actor
            // that persists). Creating it here is the same idempotent statement.
            create.CommandText = dialect.CreateTable("journal");
            await create.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT DISTINCT persistence_id FROM {dialect.Quote("journal")} WHERE substr(persistence_id, 1, @n) = @prefix";
        JournalDialect.Param(cmd, "@n", prefix.Length);
        JournalDialect.Param(cmd, "@prefix", prefix);
        var ids = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false)) ids.Add(r.GetString(0));
        return ids;
    }
}
