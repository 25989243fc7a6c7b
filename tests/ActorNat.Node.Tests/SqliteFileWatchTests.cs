using System.Net;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// A node whose SQLite file is deleted or replaced while it runs notices (device and inode), stops acknowledging new
/// mappings, turns readiness off with the reason and logs it. The faults are real: the file removed, or another file
/// renamed over it.
/// </summary>
public class SqliteFileWatchTests
{
    private static async Task<(bool Ready, string Body)> Ready(HttpClient http)
    {
        using var r = await http.GetAsync("/healthz/ready");
        return (r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("replaced")]
    public async Task A_node_whose_sqlite_file_goes_stops_acknowledging_and_says_why(string fault)
    {
        var dir = Directory.CreateTempSubdirectory("actornat-sqlite-watch-");
        var db = Path.Combine(dir.FullName, "actornat.db");
        var logs = new LogCapture();
        try
        {
            await using var n = await LiveNode.StartAsync(new()
            {
                ["ActorNat:Backend"] = "cluster", ["ActorNat:Remoting"] = "127.0.0.1:0", ["ActorNat:Database"] = "sqlite:" + db,
            }, logs);
            await n.Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { LiveNode.ArticleConfig } }, n.Auth);
            using var http = new HttpClient { BaseAddress = new Uri(n.Node.MetricsUrl!) };
            await TestWait.Until(async () => (await Ready(http)).Ready, TimeSpan.FromSeconds(60), "ready before the fault");
            Assert.Equal(Wire.VerdictAction.Translate, (await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 30000, "192.0.2.53", 53) })).Action);

            if (fault == "deleted")
                foreach (var f in new[] { db, db + "-wal", db + "-shm" }) File.Delete(f);
            else
            {
                var other = Path.Combine(dir.FullName, "other.db");
                File.Copy(db, other);
                File.Move(other, db, overwrite: true); // rename(2) over it: same path, another inode
            }

            await TestWait.Until(async () => !(await Ready(http)).Ready, TimeSpan.FromSeconds(10), "readiness off after the file " + fault);
            await logs.WaitForAsync(r => r.Text.Contains($"SQLite file {db} was {fault}"), TimeSpan.FromSeconds(10), "the reason in the log");
            // No new mapping is acknowledged: the call fails (the client goes elsewhere) instead of a verdict.
            var e = await Assert.ThrowsAsync<RpcException>(() => n.Nat.TranslateAsync(
                new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 30001, "192.0.2.53", 53) }, deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync);
            Assert.Contains(e.StatusCode, new[] { StatusCode.Unavailable, StatusCode.DeadlineExceeded });
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
