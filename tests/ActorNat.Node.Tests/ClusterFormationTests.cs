using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using ActorNat.Node.Health;
using Microsoft.Extensions.DependencyInjection;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// Cluster formation through Akka.Management's cluster bootstrap, as the Kubernetes deployment uses it. There is no
/// Kubernetes API here, so the bootstrap itself is exercised with Akka.Discovery's config method (a fixed list of
/// management endpoints), and Discovery=kubernetes is checked for what it can show without an API server.
/// </summary>
public class ClusterFormationTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>A port nothing listens on now (the management endpoints must be known to every member in advance).</summary>
    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static async Task<LiveNode> StartClusterNodeAsync(string name, Dictionary<string, string?> settings, LogCapture? logs = null)
    {
        var o = new Dictionary<string, string?>
        {
            ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0",
            ["ActorNat:AdminToken"] = LiveNode.Token,
            ["ActorNat:NodeName"] = name,
            ["ActorNat:Backend"] = "cluster",
            ["ActorNat:Remoting"] = "127.0.0.1:0",
            ["ActorNat:Database"] = "memory",
        };
        foreach (var (k, v) in settings) o[k] = v;
        return await LiveNode.StartAsync(o, logs);
    }

    /// <summary>Waits (polling, with a deadline) until <paramref name="condition"/> holds.</summary>
    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan deadline, string what)
    {
        var end = DateTime.UtcNow + deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > end) throw new Xunit.Sdk.XunitException($"not within {deadline}: {what}");
            await Task.Delay(200);
        }
    }

    private static Akka.Cluster.Cluster ClusterOf(LiveNode n) => Akka.Cluster.Cluster.Get(n.Node.Services.GetRequiredService<ActorSystem>());

    [Fact]
    public async Task Two_nodes_without_seeds_form_one_cluster_through_bootstrap_with_config_discovery()
    {
        int m1 = FreePort(), m2 = FreePort();
        Dictionary<string, string?> Settings(int own) => new()
        {
            ["ActorNat:Discovery"] = "config",
            ["ActorNat:ManagementEndpoint"] = $"127.0.0.1:{own}",
            ["ActorNat:DiscoveryEndpoints:0"] = $"127.0.0.1:{m1}",
            ["ActorNat:DiscoveryEndpoints:1"] = $"127.0.0.1:{m2}",
            ["ActorNat:DiscoveryRequiredContactPoints"] = "2",
        };
        // Started together: bootstrap waits for both contact points, then the lowest address founds the cluster.
        var starting = new[] { StartClusterNodeAsync("node1", Settings(m1)), StartClusterNodeAsync("node2", Settings(m2)) };
        await using var a = await starting[0];
        await using var b = await starting[1];

        // Both are Up members of one cluster of two: each sees the other.
        await UntilAsync(() => Task.FromResult(new[] { a, b }.All(n =>
            ClusterOf(n).State.Members.Count(m => m.Status == MemberStatus.Up) == 2)), TimeSpan.FromSeconds(90), "both nodes see two Up members");
        Assert.Equal(ClusterOf(a).State.Members.Select(m => m.Address).OrderBy(x => x.ToString()),
            ClusterOf(b).State.Members.Select(m => m.Address).OrderBy(x => x.ToString()));
        Assert.Contains(ClusterOf(b).SelfAddress, ClusterOf(a).State.Members.Select(m => m.Address));

        // Each serves /bootstrap/seed-nodes (as the probes read it) and names itself and the same two members.
        foreach (var (n, port) in new[] { (a, m1), (b, m2) })
        {
            var seeds = await SeedNodesAsync(port);
            Assert.Equal(ClusterOf(n).SelfAddress, seeds.SelfNode);
            Assert.Equal(ClusterOf(a).State.Members.Select(m => m.Address).OrderBy(x => x.ToString()), seeds.Nodes.Select(m => m.Node).OrderBy(x => x.ToString()));
        }

        // One NAT: configured through one node, a flow sent to the other, listed from the first.
        await UntilAsync(async () => (await Http.GetAsync(a.Node.MetricsUrl + HealthEndpoints.Ready)).StatusCode == HttpStatusCode.OK
            && (await Http.GetAsync(b.Node.MetricsUrl + HealthEndpoints.Ready)).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "both ready");
        await a.Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { LiveNode.ArticleConfig } }, a.Auth);
        var v = await b.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 38000, "192.0.2.53", 53) });
        Assert.Equal(Wire.VerdictAction.Translate, v.Action);
        var listed = await a.ListAsync();
        Assert.Contains(listed, e => e.Original.SrcPort == 38000 && e.Original.SrcAddress == "172.18.0.2");
    }

    [Fact]
    public async Task With_kubernetes_discovery_and_no_api_server_the_node_serves_management_stays_not_ready_and_keeps_running()
    {
        int mgmt = FreePort();
        var logs = new LogCapture();
        await using var n = await StartClusterNodeAsync("node1", new()
        {
            ["ActorNat:Discovery"] = "kubernetes",
            ["ActorNat:DiscoveryServiceName"] = "actornat",
            ["ActorNat:ManagementEndpoint"] = $"127.0.0.1:{mgmt}",
        }, logs);
        var system = n.Node.Services.GetRequiredService<ActorSystem>();

        // The management endpoint answers over HTTP: the bootstrap route, this node, no seed nodes yet.
        var seeds = await SeedNodesAsync(mgmt);
        Assert.Equal(ClusterOf(n).SelfAddress, seeds.SelfNode);
        Assert.Empty(seeds.Nodes);

        // Bootstrap asks the Kubernetes API and fails (there is none); readiness names that problem (the health check
        // logs its reason on each probe): wait for it, not for a time.
        await UntilAsync(async () =>
        {
            await Http.GetAsync(n.Node.MetricsUrl + HealthEndpoints.Ready);
            return logs.Records.Any(r => r.Text.Contains("waiting for cluster bootstrap (discovery kubernetes); last problem:"));
        }, TimeSpan.FromSeconds(60), "readiness reports the failed discovery");

        // Still alive, not ready (no cluster to join), nothing stopped, the management endpoint still answering.
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(n.Node.MetricsUrl + HealthEndpoints.Live)).StatusCode);
        var ready = await Http.GetAsync(n.Node.MetricsUrl + HealthEndpoints.Ready);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.False(system.WhenTerminated.IsCompleted, "the actor system is still running");
        Assert.False(n.Node.App.Lifetime.ApplicationStopping.IsCancellationRequested, "the node is not stopping");
        Assert.Empty(ClusterOf(n).State.Members);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync($"http://127.0.0.1:{mgmt}/bootstrap/seed-nodes")).StatusCode);
        // Not served on the node's other HTTP/1.1 listener.
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync(n.Node.MetricsUrl + "/bootstrap/seed-nodes")).StatusCode);
    }

    /// <summary>GET /bootstrap/seed-nodes, read with Akka.Management's own JSON types, as the other members' probes read it.</summary>
    private static async Task<HttpBootstrapJsonProtocol.SeedNodes> SeedNodesAsync(int managementPort)
    {
        var body = await Http.GetStringAsync($"http://127.0.0.1:{managementPort}/bootstrap/seed-nodes");
        return Newtonsoft.Json.JsonConvert.DeserializeObject<HttpBootstrapJsonProtocol.SeedNodes>(body)
            ?? throw new Xunit.Sdk.XunitException("empty seed-nodes answer: " + body);
    }
}
