using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// A private PostgreSQL server for the multi-node tests: Debian's binaries (deploy/install-deps.sh installs them),
/// a throw-away data directory, 127.0.0.1 on a free port, one database per test. Started once per test run.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private static readonly Lazy<PostgresServer> Shared = new(() => new PostgresServer());
    public static PostgresServer Instance => Shared.Value;

    private readonly string _dir;
    private readonly string _bin;
    private int _databases;
    public int Port { get; }

    private PostgresServer()
    {
        _bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault() ?? ""
            : "";
        if (_bin.Length == 0)
            throw new InvalidOperationException("PostgreSQL is not installed: run `bash deploy/install-deps.sh` (Debian's postgresql package) first");
        _dir = Path.Combine(Path.GetTempPath(), $"actornat-pg-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        Port = FreePort();
        bool root = Environment.UserName == "root";
        if (root) Run("chown", "-R", "postgres:postgres", _dir);
        AsPostgres(root, $"{_bin}/initdb -D {_dir}/data -U postgres --auth=trust -E UTF8 --no-sync");
        AsPostgres(root, $"{_bin}/pg_ctl -D {_dir}/data -l {_dir}/log -w -t 60 -o \"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300\" start");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
    }

    /// <summary>A server of one's own (a test that stops and starts it): stopped when disposed.</summary>
    public static PostgresServer NewPrivate() => new();

    /// <summary>Stops the server at once (`pg_ctl stop -m immediate`: every session is cut, as in a crash).</summary>
    public void Stop() => AsPostgres(Environment.UserName == "root", $"{_bin}/pg_ctl -D {_dir}/data -m immediate -w stop");

    /// <summary>Starts it again on the same port and data directory; returns once it accepts connections.</summary>
    public void Start() => AsPostgres(Environment.UserName == "root",
        $"{_bin}/pg_ctl -D {_dir}/data -l {_dir}/log -w -t 60 -o \"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300\" start");

    /// <summary>A fresh, empty database: `postgres://postgres@127.0.0.1:PORT/NAME`.</summary>
    public string NewDatabase()
    {
        var name = $"t{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..20];
        using var c = new NpgsqlConnection($"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"CREATE DATABASE {name}";
        cmd.ExecuteNonQuery();
        return $"postgres://postgres@127.0.0.1:{Port}/{name}";
    }

    private static void AsPostgres(bool root, string command)
    {
        if (root) Run("runuser", "-u", "postgres", "--", "sh", "-c", command);
        else Run("sh", "-c", command);
    }

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr}{stdout.Result}");
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            AsPostgres(Environment.UserName == "root", $"{_bin}/pg_ctl -D {_dir}/data -m immediate -w stop");
            Directory.Delete(_dir, recursive: true);
        }
        catch (Exception) { /* the process is going away; a leftover temp dir is harmless */ }
    }
}
