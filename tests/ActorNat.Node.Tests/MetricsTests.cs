using System.Globalization;
using System.Net;
using ActorNat.Core.Engine;
using ActorNat.Node.Health;
using ActorNat.Node.Metrics;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>/metrics and /healthz over real Kestrel (HTTP/1.1 on its own port 0), scraped under a small load.</summary>
public class MetricsTests
{
    private static readonly HttpClient Http = new();

    /// <summary>A scrape as "series → value", series as printed ("name{labels}"), comments dropped.</summary>
    public static async Task<Dictionary<string, double>> ScrapeAsync(string metricsUrl)
    {
        var text = await Http.GetStringAsync(metricsUrl + HealthEndpoints.Metrics);
        var d = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int sp = line.LastIndexOf(' ');
            d[line[..sp]] = double.Parse(line[(sp + 1)..], CultureInfo.InvariantCulture);
        }
        return d;
    }

    private static double Get(Dictionary<string, double> s, string series) =>
        s.TryGetValue(series, out var v) ? v : throw new Xunit.Sdk.XunitException($"no series {series} in the scrape:\n" + string.Join("\n", s.Keys.Where(k => k.StartsWith(series.Split('{')[0]))));

    private static double Sum(Dictionary<string, double> s, string name) => s.Where(kv => kv.Key.StartsWith(name + "{", StringComparison.Ordinal)).Sum(kv => kv.Value);

    [Fact]
    public async Task Scrape_under_load_shows_every_local_metric_moving()
    {
        await using var n = await LiveNode.StartArticleAsync();
        var url = n.Node.MetricsUrl!;
        Assert.StartsWith("http://127.0.0.1:", url);
        var before = await ScrapeAsync(url);
        const string node = "node=\"node1\"";

        // 100 UDP flows (unary), their replies, 16 TCP SYNs to one server through the 15 ports of --to-ports (one is
        // dropped: ports exhausted), and one batch of 50 UDP flows on a stream.
        for (uint i = 0; i < 100; i++)
            await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 30000 + i, "192.0.2.53", 53) });
        for (uint i = 0; i < 10; i++)
            await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("192.0.2.53", 53, "10.0.2.15", 30000 + i) });
        var tcp = new List<Wire.Verdict>();
        for (uint i = 0; i < 16; i++)
            tcp.Add(await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Tcp("172.18.0.3", 40000 + i, "192.0.2.80", 80, LiveNode.Syn, 1) }));
        using (var call = n.Nat.TranslateStream())
        {
            var batch = new Wire.PacketBatch { BatchId = 1 };
            for (uint i = 0; i < 50; i++) batch.Packets.Add(LiveNode.Udp("172.18.0.4", 31000 + i, "192.0.2.53", 53));
            await call.RequestStream.WriteAsync(batch);
            await call.RequestStream.CompleteAsync();
            await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
        }
        Assert.Equal(15, tcp.Count(v => v.Action == Wire.VerdictAction.Translate));

        var after = await ScrapeAsync(url);
        double Delta(string series) => Get(after, series) - (before.TryGetValue(series, out var b) ? b : 0);

        Assert.Equal(100 + 10 + 15 + 50, Delta($"actornat_verdicts_total{{verdict=\"translate\",{node}}}"));
        Assert.Equal(1, Delta($"actornat_verdicts_total{{verdict=\"drop\",{node}}}"));
        Assert.Equal(1, Delta($"actornat_drops_total{{reason=\"ports-exhausted\",{node}}}"));
        Assert.Equal(100 + 15 + 50, Delta($"actornat_new_flows_total{{{node}}}"));
        Assert.Equal(10, Delta($"actornat_translations_total{{direction=\"reply\",{node}}}"));
        Assert.Equal(100 + 16 + 10, Delta($"actornat_verdict_duration_seconds_count{{call=\"unary\",{node}}}"));
        Assert.Equal(1, Delta($"actornat_verdict_duration_seconds_count{{call=\"batch\",{node}}}"));
        Assert.Equal(50, Delta($"actornat_verdict_batch_size_sum{{call=\"batch\",{node}}}"));
        Assert.Equal(115, Delta($"actornat_allocation_duration_seconds_count{{{node}}}"));
        Assert.True(Get(after, $"actornat_verdict_duration_seconds_sum{{call=\"unary\",{node}}}") > 0);

        // Gauges sampled at scrape time: entries by protocol and state, and the pools.
        Assert.Equal(140, Get(after, $"actornat_conntrack_entries{{protocol=\"udp\",state=\"UNREPLIED\",{node}}}"));
        Assert.Equal(10, Get(after, $"actornat_conntrack_entries{{protocol=\"udp\",state=\"REPLIED\",{node}}}"));
        Assert.Equal(15, Get(after, $"actornat_conntrack_entries{{protocol=\"tcp\",state=\"SYN_SENT\",{node}}}"));
        Assert.Equal(await n.CountAsync(), (ulong)Sum(after, "actornat_conntrack_entries"));
        Assert.Equal(15, Get(after, $"actornat_port_pool_used{{nat_ip=\"10.0.2.15\",protocol=\"tcp\",{node}}}"));
        Assert.Equal(150, Get(after, $"actornat_port_pool_used{{nat_ip=\"10.0.2.15\",protocol=\"udp\",{node}}}"));
        // 1-511, 600-1023, 1024-65535 (the rule without --to-ports) ∪ 55666-55680
        Assert.Equal(65447, Get(after, $"actornat_port_pool_size{{nat_ip=\"10.0.2.15\",protocol=\"tcp\",{node}}}"));
        Assert.Equal(65536, Get(after, $"actornat_port_pool_size{{nat_ip=\"203.0.113.56\",protocol=\"icmp\",{node}}}"));

        // conntrack -S, the same numbers the admin API gives.
        var stats = await n.Admin.ConntrackStatsAsync(new Wire.Empty());
        foreach (var c in stats.Nodes.Single().Counters)
            Assert.Equal((double)c.Value, Get(after, $"actornat_conntrack_stat_total{{counter=\"{c.Name}\",{node}}}"));
        Assert.Equal(1, Get(after, $"actornat_conntrack_stat_total{{counter=\"insert_failed\",{node}}}"));
        Assert.Equal(165, Delta($"actornat_nat_events_total{{event=\"session_create\",{node}}}"));

        // Deleting entries: destroyed by reason, and the gauges follow.
        await n.Admin.ConntrackDeleteAsync(new Wire.ConntrackFilter { Protocol = Wire.IpProtocol.Tcp }, n.Auth);
        var last = await ScrapeAsync(url);
        Assert.Equal(15, Get(last, $"actornat_conntrack_destroyed_total{{reason=\"deleted\",{node}}}"));
        Assert.False(last.ContainsKey($"actornat_conntrack_entries{{protocol=\"tcp\",state=\"SYN_SENT\",{node}}}"));
        Assert.Equal(0, Get(last, $"actornat_port_pool_used{{nat_ip=\"10.0.2.15\",protocol=\"tcp\",{node}}}"));
        Assert.Equal(1, Get(last, $"actornat_node_ready{{{node}}}"));
    }

    [Fact]
    public async Task Live_and_ready_probes_answer_and_follow_the_backend_readiness()
    {
        var gate = new Gate();
        await using var node = NatNode.Create([], new Dictionary<string, string?>
        {
            ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0",
            ["ActorNat:MetricsEndpoint"] = "127.0.0.1:0",
        }, s => s.AddSingleton<IReadiness>(gate), l => l.ClearProviders());
        await node.StartAsync();
        var url = node.MetricsUrl!;
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(node.GrpcUrl);
        var health = new Grpc.Health.V1.Health.HealthClient(channel);

        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(url + HealthEndpoints.Live)).StatusCode);
        var notReady = await Http.GetAsync(url + HealthEndpoints.Ready);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, await WaitForAsync(health, HealthCheckResponse.Types.ServingStatus.NotServing));

        gate.Ready = true;
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(url + HealthEndpoints.Ready)).StatusCode);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, await WaitForAsync(health, HealthCheckResponse.Types.ServingStatus.Serving));
        Assert.Equal(1, Get(await ScrapeAsync(url), "actornat_node_ready{node=\"node1\"}"));
        await node.StopAsync();
    }

    /// <summary>gRPC health publishes on its own poll; wait (by watching, not sleeping) until it reports <paramref name="want"/>.</summary>
    private static async Task<HealthCheckResponse.Types.ServingStatus> WaitForAsync(Grpc.Health.V1.Health.HealthClient health, HealthCheckResponse.Types.ServingStatus want)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var watch = health.Watch(new HealthCheckRequest(), cancellationToken: cts.Token);
        var last = HealthCheckResponse.Types.ServingStatus.Unknown;
        await foreach (var r in watch.ResponseStream.ReadAllAsync(cts.Token))
        {
            last = r.Status;
            if (last == want) break;
        }
        return last;
    }

    private sealed class Gate : IReadiness
    {
        public volatile bool Ready;
        public ValueTask<(bool Ready, string Reason)> CheckAsync(CancellationToken ct) => ValueTask.FromResult((Ready, Ready ? "ready" : "joining cluster"));
    }

    [Fact]
    public async Task Metrics_endpoint_can_be_turned_off_and_a_bad_one_stops_the_node()
    {
        await using (var off = NatNode.Create([], new Dictionary<string, string?> { ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0", ["ActorNat:MetricsEndpoint"] = "off" }, configureLogging: l => l.ClearProviders()))
        {
            await off.StartAsync();
            Assert.Null(off.MetricsUrl);
            await off.StopAsync();
        }
        var e = Assert.Throws<NodeStartupException>(() => NatNode.Create([], new Dictionary<string, string?> { ["ActorNat:MetricsEndpoint"] = "nowhere" }));
        Assert.Contains("metrics endpoint", e.Message);
        var ev = Assert.Throws<NodeStartupException>(() => NatNode.Create([], new Dictionary<string, string?> { ["ActorNat:NatEvents"] = "syslog" }));
        Assert.Contains("NatEvents", ev.Message);
    }

    [Fact]
    public async Task The_real_backend_stays_reachable_behind_the_metered_one()
    {
        await using var n = await LiveNode.StartAsync();
        var metered = Assert.IsType<MeteredNatBackend>(n.Node.Backend);
        Assert.IsType<LocalNatBackend>(metered.Inner);
    }
}
