using LinqToDB;
using Microsoft.Data.Sqlite;

namespace ActorNat.Cluster.Hosting;

/// <summary>Where a node keeps its journal: `memory`, `sqlite:PATH` or `postgres://user:password@host:port/database`.</summary>
public sealed record Database(string Kind, string ConnectionString, string ProviderName)
{
    /// <param name="abortFrozenWritesAfter">
    /// PostgreSQL: a session of this node left idle inside a transaction this long is ended by the server
    /// (<c>idle_in_transaction_session_timeout</c>), which rolls the transaction back. A node frozen between a journal
    /// insert and its commit would otherwise hold the inserted rows' unique-key locks, and its successor's insert of the
    /// same sequence number would wait until the frozen node ran again. Use the pause fence's limit: a node frozen that
    /// long is fenced anyway and acknowledges nothing it wrote, so nothing acknowledged is rolled back.
    /// </param>
    public static Database Parse(string spec, TimeSpan? abortFrozenWritesAfter = null)
    {
        if (spec == "memory") return new Database("memory", "", "");
        if (spec.StartsWith("sqlite:", StringComparison.Ordinal))
        {
            var path = Path.GetFullPath(spec["sqlite:".Length..]);
            if (Path.GetDirectoryName(path) is { } dir) Directory.CreateDirectory(dir);
            return new Database("sqlite", $"Data Source={path};Pooling=True", LinqToDB.ProviderName.SQLiteMS);
        }
        if (spec.StartsWith("postgres://", StringComparison.Ordinal) || spec.StartsWith("postgresql://", StringComparison.Ordinal))
        {
            var uri = new Uri(spec);
            var user = Uri.UnescapeDataString(uri.UserInfo.Split(':')[0]);
            var password = uri.UserInfo.Contains(':') ? Uri.UnescapeDataString(uri.UserInfo[(uri.UserInfo.IndexOf(':') + 1)..]) : "";
            var db = uri.AbsolutePath.Trim('/');
            var cs = $"Host={uri.Host};Port={(uri.Port > 0 ? uri.Port : 5432)};Username={user};Password={password};Database={(db.Length == 0 ? "actornat" : db)};Maximum Pool Size=50";
            if (abortFrozenWritesAfter is { } t && t > TimeSpan.Zero)
                cs += $";Options='-c idle_in_transaction_session_timeout={(int)Math.Ceiling(t.TotalMilliseconds)}'";
            return new Database("postgres", cs, LinqToDB.ProviderName.PostgreSQL15);
        }
        throw new ArgumentException($"unknown database \"{spec}\": use memory, sqlite:PATH or postgres://user:password@host:port/database");
    }

    /// <summary>SQLite in WAL mode: readers do not block the journal's writer (set once per file, before Akka opens it).</summary>
    public void Prepare()
    {
        if (Kind != "sqlite") return;
        using var c = new SqliteConnection(ConnectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode=WAL;";
        cmd.ExecuteNonQuery();
    }
}
