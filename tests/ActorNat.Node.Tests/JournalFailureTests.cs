using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// A journal that cannot write turns readiness off with the reason (and logs it); readiness comes back with the journal.
/// The fault is real: the node's SQLite file and its WAL made immutable (chattr +i: even root cannot write them).
/// </summary>
public class JournalFailureTests
{
    private static void Chattr(string flag, params string[] files)
    {
        using var p = Process.Start(new ProcessStartInfo("chattr", [flag, .. files]) { RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"chattr {flag}: {p.StandardError.ReadToEnd()}");
    }

    private static async Task<bool> ReadyAsync(HttpClient http) => (await http.GetAsync("/healthz/ready")).StatusCode == HttpStatusCode.OK;

    [Fact]
    public async Task An_unwritable_journal_turns_readiness_off_with_the_reason_until_it_writes_again()
    {
        var dir = Directory.CreateTempSubdirectory("actornat-journal-fault-");
        var db = Path.Combine(dir.FullName, "actornat.db");
        var locked = new[] { db, db + "-wal" };
        var logs = new LogCapture();
        bool immutable = false;
        try
        {
            await using var n = await LiveNode.StartAsync(new()
            {
                ["ActorNat:Backend"] = "cluster", ["ActorNat:Remoting"] = "127.0.0.1:0", ["ActorNat:Database"] = "sqlite:" + db,
            }, logs);
            await n.Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { LiveNode.ArticleConfig } }, n.Auth);
            using var http = new HttpClient { BaseAddress = new Uri(n.Node.MetricsUrl!) };
            await TestWait.Until(() => ReadyAsync(http), TimeSpan.FromSeconds(60), "ready before the fault");
            Assert.Equal(Wire.VerdictAction.Translate, (await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 30000, "192.0.2.53", 53) })).Action);

            Chattr("+i", locked);
            immutable = true;
            // New flows need a journal write each; they fail (UNAVAILABLE after the attempts, or sooner).
            uint port = 30001;
            await TestWait.Until(async () =>
            {
                try { await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", port++, "192.0.2.53", 53) }, deadline: DateTime.UtcNow.AddSeconds(3)); }
                catch (RpcException) { }
                return !await ReadyAsync(http);
            }, TimeSpan.FromSeconds(90), "readiness off while the journal cannot write");
            await logs.WaitForAsync(r => r.Text.Contains("journal cannot write"), TimeSpan.FromSeconds(30), "the reason, in the readiness check's log");

            Chattr("-i", locked);
            immutable = false;
            await TestWait.Until(async () =>
            {
                try { await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", port++, "192.0.2.53", 53) }, deadline: DateTime.UtcNow.AddSeconds(3)); }
                catch (RpcException) { }
                return await ReadyAsync(http);
            }, TimeSpan.FromSeconds(90), "ready again once the journal writes");
        }
        finally
        {
            if (immutable) Chattr("-i", locked);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }
}

internal static class TestWait
{
    /// <summary>Polls <paramref name="condition"/> every 100 ms until it holds or the deadline passes.</summary>
    public static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out after {timeout} waiting for: {what}");
            await Task.Delay(100); // polling the condition, with a deadline
        }
    }
}
