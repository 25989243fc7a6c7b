using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>A cluster that does not answer in time: the caller gets UNAVAILABLE and a reason, the node counts it and logs it rarely.</summary>
public class ClusterTimeoutTests
{
    /// <summary>A backend whose cluster never answers (the mapping is under test, not the cluster).</summary>
    private sealed class SilentCluster : INatBackend
    {
        public ValueTask<Verdict> TranslateAsync(Packet packet, CancellationToken ct = default) =>
            throw new Akka.Actor.AskTimeoutException("Timeout after 00:00:02 seconds");
        public ValueTask<Verdict[]> TranslateBatchAsync(IReadOnlyList<Packet> packets, CancellationToken ct = default) =>
            ValueTask.FromException<Verdict[]>(new TimeoutException("no verdict in time"));
        public Task ApplyConfigAsync(string line, CancellationToken ct = default) => Task.CompletedTask;
        public Task<ConfigSnapshot> GetConfigAsync(CancellationToken ct = default) => throw new NotSupportedException();
        public Task<IReadOnlyList<ConntrackRecord>> ListAsync(ConntrackFilter filter, CancellationToken ct = default) => throw new NotSupportedException();
        public Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct = default) => throw new NotSupportedException();
        public Task<long> CountAsync(CancellationToken ct = default) => Task.FromException<long>(new Akka.Actor.AskTimeoutException("count timed out"));
        public Task<IReadOnlyList<(string Name, long Value)>> StatsAsync(CancellationToken ct = default) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Ask_timeouts_become_unavailable_are_counted_and_logged_at_most_once_per_interval()
    {
        var logs = new LogCapture();
        await using var node = NatNode.Create([], new Dictionary<string, string?> { ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0" },
            s => s.AddSingleton<INatBackend>(new SilentCluster()), l =>
            {
                l.ClearProviders();
                l.AddProvider(logs);
            });
        await node.StartAsync();
        using var channel = GrpcChannel.ForAddress(node.GrpcUrl);
        var nat = new Wire.NatService.NatServiceClient(channel);
        var admin = new Wire.AdminService.AdminServiceClient(channel);

        const int unary = 5;
        for (int i = 0; i < unary; i++)
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () =>
                await nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", (uint)(30000 + i), "192.0.2.53", 53) }));
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
            Assert.Equal("the cluster did not answer in time; retry (this node or another)", e.Status.Detail);
        }

        using (var call = nat.TranslateStream())
        {
            var batch = new Wire.PacketBatch { BatchId = 1 };
            batch.Packets.Add(LiveNode.Udp("172.18.0.2", 31000, "192.0.2.53", 53));
            await call.RequestStream.WriteAsync(batch);
            var e = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
            Assert.Contains("did not answer", e.Status.Detail);
        }

        // Administrative calls too (conntrack -C against a silent cluster).
        var count = await Assert.ThrowsAsync<RpcException>(async () => await admin.ConntrackCountAsync(new Wire.Empty()));
        Assert.Equal(StatusCode.Unavailable, count.StatusCode);

        var scrape = await MetricsTests.ScrapeAsync(node.MetricsUrl!);
        Assert.Equal(unary, scrape["actornat_request_timeouts_total{method=\"Translate\",node=\"node1\"}"]);
        Assert.Equal(1, scrape["actornat_request_timeouts_total{method=\"TranslateStream\",node=\"node1\"}"]);
        Assert.Equal(1, scrape["actornat_request_timeouts_total{method=\"ConntrackCount\",node=\"node1\"}"]);

        // Seven timeouts within a few seconds: one warning line, no handler exception (stack trace) per request.
        var warnings = logs.Records.Where(r => r.Category.EndsWith("ClusterTimeoutInterceptor")).ToList();
        Assert.Single(warnings);
        Assert.Equal(LogLevel.Warning, warnings[0].Level);
        Assert.Contains("the cluster did not answer Translate in time", warnings[0].Text);
        Assert.DoesNotContain(logs.Records, r => r.Text.Contains("Exception was thrown by handler") || r.Text.Contains("Error when executing service method"));
        await node.StopAsync();
    }
}
