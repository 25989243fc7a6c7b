using System.Net;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// A node restarted over a populated SQLite file is not ready until it has recovered its configuration and every pool:
/// `conntrack -C` right after the first ready answer equals the table's size.
/// </summary>
public class RecoveryReadinessTests
{
    private static Dictionary<string, string?> Cluster(string db) => new()
    {
        ["ActorNat:Backend"] = "cluster",
        ["ActorNat:Remoting"] = "127.0.0.1:0",
        ["ActorNat:Database"] = "sqlite:" + db,
    };

    [Fact]
    public async Task Ready_after_a_restart_means_the_whole_table_is_back()
    {
        var dir = Directory.CreateTempSubdirectory("actornat-recovery-ready-");
        var db = Path.Combine(dir.FullName, "actornat.db");
        const int flows = 300;
        try
        {
            await using (var first = await LiveNode.StartArticleAsync(Cluster(db)))
            {
                // Flows to many servers: many pools (one per NAT address, protocol and server bucket).
                using var call = first.Nat.TranslateStream();
                var batch = new Wire.PacketBatch { BatchId = 1 };
                for (uint i = 0; i < flows; i++)
                    batch.Packets.Add(LiveNode.Udp("172.18.0.2", 20000 + i, $"192.0.2.{1 + i % 200}", 53 + i % 7));
                await call.RequestStream.WriteAsync(batch);
                await call.RequestStream.CompleteAsync();
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
                Assert.All(call.ResponseStream.Current.Verdicts, v => Assert.Equal(Wire.VerdictAction.Translate, v.Action));
                Assert.Equal((ulong)flows, await first.CountAsync());
            }

            await using var second = await LiveNode.StartAsync(Cluster(db));
            using var http = new HttpClient { BaseAddress = new Uri(second.Node.MetricsUrl!) };
            var deadline = DateTime.UtcNow.AddSeconds(90);
            HttpStatusCode status;
            string body;
            do
            {
                using var r = await http.GetAsync("/healthz/ready");
                (status, body) = (r.StatusCode, await r.Content.ReadAsStringAsync());
                if (status == HttpStatusCode.OK) break;
                await Task.Delay(50); // polling readiness with a deadline
            } while (DateTime.UtcNow < deadline);
            Assert.True(status == HttpStatusCode.OK, $"not ready within 90 s: {body}");
            Assert.Equal((ulong)flows, await second.CountAsync());
            Assert.Equal(2, (await second.Admin.RuleListAsync(new Wire.ListRequest())).Lines.Count(l => l.StartsWith("-A")));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
