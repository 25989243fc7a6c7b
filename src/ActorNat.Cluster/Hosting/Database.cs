using LinqToDB;
using Microsoft.Data.Sqlite;

namespace ActorNat.Cluster.Hosting;

/// <summary>Where a node keeps its journal: `memory`, `sqlite:PATH` or `postgres://user:password@host:port/database`.</summary>
public sealed record Database(string Kind, string ConnectionString, string ProviderName)
{
    public static Database Parse(string spec)
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
