using System.Data.Common;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// The SQL of one database for Akka.Persistence.Sql's journal table (same columns and meaning: a deleted event keeps
/// its row, marked, while it is the highest of its persistence id, so the highest sequence number survives deletion).
/// Writes run on the group-commit writer's one connection; reads on connections of their own.
/// </summary>
public abstract class JournalDialect(string connectionString)
{
    public string ConnectionString { get; } = connectionString;

    public abstract string Name { get; }

    public abstract DbConnection NewConnection();

    /// <summary>Per-connection settings of the writer's connection (SQLite: how it syncs).</summary>
    public virtual void PrepareWriter(DbConnection connection) { }

    /// <summary>Creates the table if it is missing, as Akka.Persistence.Sql would (its columns and unique key).</summary>
    public abstract string CreateTable(string table);

    /// <summary>Inserts every row (of one or several tables) inside the open transaction.</summary>
    public abstract void Insert(DbConnection c, DbTransaction tx, IReadOnlyList<JournalRow> rows);

    public virtual string ReplaySql(string table) =>
        $"SELECT sequence_number, message, manifest, identifier, deleted, writer_uuid, created FROM {Quote(table)} " +
        $"WHERE persistence_id = @p AND sequence_number >= @from AND sequence_number <= @to AND deleted = {False} " +
        "ORDER BY sequence_number LIMIT @max";

    /// <summary>Marked deleted rows count: they hold the highest sequence number of a journal deleted to its end.</summary>
    public virtual string HighestSql(string table) =>
        $"SELECT MAX(sequence_number) FROM {Quote(table)} WHERE persistence_id = @p AND sequence_number > @from";

    public virtual string DeleteSql(string table) =>
        $"UPDATE {Quote(table)} SET deleted = {True} WHERE persistence_id = @p AND sequence_number <= @to; " +
        $"DELETE FROM {Quote(table)} WHERE persistence_id = @p AND sequence_number <= @to AND sequence_number < " +
        $"(SELECT MAX(sequence_number) FROM {Quote(table)} WHERE persistence_id = @p AND deleted = {True})";

    protected abstract string True { get; }
    protected abstract string False { get; }

    public abstract string Quote(string table);

    public static DbParameter Param(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
        return p;
    }

    public static JournalDialect For(string kind, string connectionString, bool syncEveryCommit) => kind switch
    {
        "sqlite" => new SqliteDialect(connectionString, syncEveryCommit),
        "postgres" => new PostgresDialect(connectionString),
        _ => throw new ArgumentException($"no SQL journal for database kind \"{kind}\" (sqlite or postgres)"),
    };
}
