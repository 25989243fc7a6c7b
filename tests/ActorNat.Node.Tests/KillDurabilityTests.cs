using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// "Acknowledged means it survives": the real node process, its journal on SQLite (the group-commit journal, the
/// default; and Akka.Persistence.Sql's), killed with SIGKILL right after it answered streams of new flows; restarted on
/// the same file, it holds every acknowledged mapping: the same connections' next packets keep their NAT ports.
/// </summary>
public class KillDurabilityTests
{
    [Theory]
    [InlineData("actornat")]
    [InlineData("akka")]
    public async Task Every_acknowledged_mapping_survives_a_kill_9(string journal)
    {
        var dir = Directory.CreateTempSubdirectory("actornat-kill-");
        var config = Path.Combine(dir.FullName, "router.conf");
        await File.WriteAllLinesAsync(config, LiveNode.ArticleConfig);
        string[] args = ["--backend", "cluster", "--database", "sqlite:" + Path.Combine(dir.FullName, "n.db"), "--grpc", "127.0.0.1:0",
            "--metrics", "127.0.0.1:0", "--random-seed", "7", "--journal", journal];
        const int flows = 400;
        var mapped = new Dictionary<uint, uint>(); // client port -> NAT port
        try
        {
            await using (var first = await NodeProcess.StartAsync([.. args, "--config", config]))
            {
                await WaitReady(first);
                using var channel = GrpcChannel.ForAddress(first.GrpcUrl);
                var nat = new Wire.NatService.NatServiceClient(channel);
                // Several batches in flight, each answered only once its mappings are durable; the kill follows the
                // last answer at once.
                var calls = Enumerable.Range(0, 4).Select(b => Send(nat, (uint)(20000 + b * (flows / 4)), flows / 4, b)).ToList();
                foreach (var (port, verdict) in (await Task.WhenAll(calls)).SelectMany(v => v))
                {
                    Assert.Equal(Wire.VerdictAction.Translate, verdict.Action);
                    mapped[port] = verdict.Rewritten.SrcPort;
                }
                first.Kill();
                await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
            }
            await using var second = await NodeProcess.StartAsync(args); // the configuration is in the journal too
            await WaitReady(second);
            using var channel2 = GrpcChannel.ForAddress(second.GrpcUrl);
            var nat2 = new Wire.NatService.NatServiceClient(channel2);
            // The same connections' next packets keep their ports; a new connection from each client port to another
            // server may not take a port an acknowledged mapping holds towards the same server.
            var again = (await Task.WhenAll(Enumerable.Range(0, 4).Select(b => Send(nat2, (uint)(20000 + b * (flows / 4)), flows / 4, b))))
                .SelectMany(v => v).ToList();
            Assert.Equal(flows, again.Count);
            Assert.All(again, a => Assert.False(a.Verdict.Created, $"client port {a.Port}: a new entry after the restart"));
            foreach (var (port, verdict) in again)
                Assert.True(mapped[port] == verdict.Rewritten.SrcPort, $"client port {port}: NAT port {mapped[port]} before the kill, {verdict.Rewritten.SrcPort} after");
            var admin = new Wire.AdminService.AdminServiceClient(channel2);
            Assert.Equal((ulong)flows, (await admin.ConntrackCountAsync(new Wire.Empty())).Count);
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<List<(uint Port, Wire.Verdict Verdict)>> Send(Wire.NatService.NatServiceClient nat, uint firstPort, int count, int batch)
    {
        using var call = nat.TranslateStream();
        var b = new Wire.PacketBatch { BatchId = (ulong)batch + 1 };
        for (uint i = 0; i < count; i++) b.Packets.Add(LiveNode.Udp("172.18.0.2", firstPort + i, "192.0.2.53", 53));
        await call.RequestStream.WriteAsync(b);
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var verdicts = call.ResponseStream.Current.Verdicts;
        Assert.Equal(count, verdicts.Count);
        return verdicts.Select((v, i) => (firstPort + (uint)i, v)).ToList();
    }

    private static async Task WaitReady(NodeProcess node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            try
            {
                if ((await http.GetAsync(node.MetricsUrl + "/healthz/ready")).StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"not ready within 120 s:\n{node.Output}");
            await Task.Delay(50); // polling readiness, with a deadline
        }
    }
}
