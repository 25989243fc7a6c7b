using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// SQLite (the file in WAL mode, <see cref="Hosting.Database.Prepare"/>): one prepared insert per table, run row by
/// row inside the writer's transaction (in-process, so a row costs a statement step, not a round trip).
/// </summary>
public sealed class SqliteDialect(string connectionString, bool syncEveryCommit) : JournalDialect(connectionString)
{
    public override string Name => "sqlite";

    /// <summary>
    /// synchronous=FULL (the default): every commit is fsynced before the writes it carries are acknowledged, so an
    /// acknowledged mapping survives a kill -9 and also the machine's crash or power loss. NORMAL (WAL) would survive a
    /// kill -9 (the commit is in the OS's page cache) but not a crash of the machine. Group commit makes FULL cheap:
    /// one fsync per transaction, shared by every event the node wrote meanwhile.
    /// </summary>
    public bool SyncEveryCommit { get; } = syncEveryCommit;

    public override DbConnection NewConnection() => new SqliteConnection(ConnectionString);

    public override void PrepareWriter(DbConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={(SyncEveryCommit ? "FULL" : "NORMAL")};";
        cmd.ExecuteNonQuery();
    }

    // Akka.Persistence.Sql's table (linq2db's DDL, as found in its files) with its unique key; its indexes on created and
    // sequence_number alone serve no query of this journal and cost a b-tree update per row, so a new file has none.
    public override string CreateTable(string table) => $"""
        CREATE TABLE IF NOT EXISTS {Quote(table)}
        (
        	[ordering]        INTEGER        NOT NULL PRIMARY KEY AUTOINCREMENT,
        	[created]         INTEGER        NOT NULL,
        	[deleted]         Bit            NOT NULL,
        	[persistence_id]  NVarChar(255)  NOT NULL,
        	[sequence_number] INTEGER        NOT NULL,
        	[message]         VarBinary      NOT NULL,
        	[manifest]        NVarChar(500)      NULL,
        	[identifier]      INTEGER            NULL,
        	[writer_uuid]     NVarChar(128)      NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS {table}_uq ON {table} (persistence_id, sequence_number);
        """;

    private readonly Dictionary<string, SqliteCommand> _inserts = [];
    private DbConnection? _insertsFor;

    public override void Insert(DbConnection c, DbTransaction tx, IReadOnlyList<JournalRow> rows)
    {
        if (!ReferenceEquals(_insertsFor, c))
        {
            foreach (var old in _inserts.Values) old.Dispose();
            _inserts.Clear();
            _insertsFor = c;
        }
        foreach (var r in rows)
        {
            if (!_inserts.TryGetValue(r.Table, out var cmd))
            {
                cmd = (SqliteCommand)c.CreateCommand();
                cmd.CommandText = $"INSERT INTO {Quote(r.Table)} (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid) " +
                                  "VALUES (@c, 0, @p, @s, @m, @mf, @i, @w)";
                foreach (var n in new[] { "@c", "@p", "@s", "@m", "@mf", "@i", "@w" }) Param(cmd, n, null);
                cmd.Prepare();
                _inserts[r.Table] = cmd;
            }
            cmd.Transaction = (SqliteTransaction)tx;
            var ps = cmd.Parameters;
            ps[0].Value = r.Created;
            ps[1].Value = r.PersistenceId;
            ps[2].Value = r.SequenceNr;
            ps[3].Value = r.Message;
            ps[4].Value = r.Manifest;
            ps[5].Value = r.SerializerId;
            ps[6].Value = (object?)r.WriterUuid ?? DBNull.Value;
            cmd.ExecuteNonQuery();
        }
    }

    protected override string True => "1";
    protected override string False => "0";
    public override string Quote(string table) => $"[{table}]";
}
