using ActorNat.Cluster.Hosting;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// The configuration that puts ActorNat's journals in place of Akka's under the same plugin ids (so sharding, the
/// read journal and every persistent actor find them where they were): <see cref="GroupCommitJournal"/> for SQLite
/// and PostgreSQL, <see cref="InMemoryJournal"/> for `memory`. Chosen by <see cref="ClusterNodeOptions.Journal"/>.
/// </summary>
public static class JournalPlugins
{
    private static string ClassOf<T>() => $"{typeof(T).FullName}, {typeof(T).Assembly.GetName().Name}";

    public static string InMemory() => $"""
        akka.persistence.journal.inmem.class = "{ClassOf<InMemoryJournal>()}"
        """;

    /// <summary>The events journal (table journal) on <paramref name="db"/>, and sharding's (table sharding_journal) if named.</summary>
    public static string GroupCommit(Database db, string? shardingPluginId = null)
    {
        var events = $"""
            akka.persistence.journal.sql.class = "{ClassOf<GroupCommitJournal>()}"
            akka.persistence.journal.sql.{GroupCommitJournal.DialectKey} = {db.Kind}
            akka.persistence.journal.sql.{GroupCommitJournal.TableKey} = journal
            """;
        return shardingPluginId is null ? events : events + $"""

            {shardingPluginId}.class = "{ClassOf<GroupCommitJournal>()}"
            {shardingPluginId}.{GroupCommitJournal.DialectKey} = {db.Kind}
            {shardingPluginId}.{GroupCommitJournal.TableKey} = sharding_journal
            """;
    }
}
