using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// PostgreSQL: every row of a table in one INSERT … SELECT FROM unnest(arrays), so a transaction of any size is one
/// round trip per table plus the commit (which the server makes durable with its own WAL flush; synchronous_commit
/// is the server's setting).
/// </summary>
public sealed class PostgresDialect(string connectionString) : JournalDialect(connectionString)
{
    public override string Name => "postgres";

    public override DbConnection NewConnection() => new NpgsqlConnection(ConnectionString);

    // Akka.Persistence.Sql's table as linq2db creates it (pg_dump of a database it initialised), with its unique key;
    // its indexes on created and sequence_number alone serve no query of this journal, so a new database has none.
    public override string CreateTable(string table) => $"""
        CREATE TABLE IF NOT EXISTS {table} (
            ordering bigint GENERATED ALWAYS AS IDENTITY,
            created bigint NOT NULL,
            deleted boolean NOT NULL,
            persistence_id text NOT NULL,
            sequence_number bigint NOT NULL,
            message bytea NOT NULL,
            manifest text,
            identifier integer,
            writer_uuid text,
            CONSTRAINT "PK_{table}" PRIMARY KEY (ordering),
            CONSTRAINT {table}_uq UNIQUE (persistence_id, sequence_number)
        );
        """;

    public override void Insert(DbConnection c, DbTransaction tx, IReadOnlyList<JournalRow> rows)
    {
        foreach (var group in rows.GroupBy(r => r.Table))
        {
            var g = group.ToList();
            using var cmd = new NpgsqlCommand(
                $"INSERT INTO {group.Key} (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid) " +
                "SELECT c, false, p, s, m, mf, i, w FROM unnest(@c, @p, @s, @m, @mf, @i, @w) AS t(c, p, s, m, mf, i, w)",
                (NpgsqlConnection)c, (NpgsqlTransaction)tx);
            cmd.Parameters.Add(new NpgsqlParameter("c", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = g.Select(r => r.Created).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter("p", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = g.Select(r => r.PersistenceId).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter("s", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = g.Select(r => r.SequenceNr).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter("m", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = g.Select(r => r.Message).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter("mf", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = g.Select(r => r.Manifest).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter("i", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = g.Select(r => r.SerializerId).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter("w", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = g.Select(r => r.WriterUuid).ToArray() });
            cmd.ExecuteNonQuery();
        }
    }

    protected override string True => "true";
    protected override string False => "false";
    public override string Quote(string table) => table;
}
