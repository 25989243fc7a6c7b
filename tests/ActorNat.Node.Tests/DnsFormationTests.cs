using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// Cluster formation as a Kubernetes headless Service gives it: one DNS name whose addresses are the members, each
/// serving its management endpoint on the same port. Here the name is a stand-in resolving to three loopback
/// addresses (127.0.0.1-3, one node each, one management port): the resolver is replaced, the rest is the real
/// bootstrap (probes over HTTP, the lowest address founds the cluster, the others join it).
/// </summary>
[Collection(nameof(DnsFormationTests))] // replaces the process-wide resolver: not beside another test using it
public class DnsFormationTests
{
    private const string Name = "actornat-headless.stand-in.test";

    private static int FreePortOnAll(params string[] hosts)
    {
        while (true)
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            try
            {
                foreach (var h in hosts)
                {
                    var t = new TcpListener(IPAddress.Parse(h), port);
                    t.Start();
                    t.Stop();
                }
                return port;
            }
            catch (SocketException) { }
        }
    }

    private static Akka.Cluster.Cluster ClusterOf(LiveNode n) => Akka.Cluster.Cluster.Get(n.Node.Services.GetRequiredService<ActorSystem>());

    [Fact]
    public async Task Three_nodes_form_one_cluster_from_a_dns_name_of_their_addresses()
    {
        var hosts = new[] { "127.0.0.1", "127.0.0.2", "127.0.0.3" };
        int management = FreePortOnAll(hosts);
        var asked = 0;
        DnsServiceDiscovery.Resolve = (name, _) =>
        {
            Interlocked.Increment(ref asked);
            return Task.FromResult(name == Name ? hosts.Reverse().Select(IPAddress.Parse).ToArray() : throw new SocketException((int)SocketError.HostNotFound));
        };
        try
        {
            var starting = hosts.Select((h, i) => LiveNode.StartAsync(new()
            {
                ["ActorNat:GrpcEndpoint"] = $"{h}:0", ["ActorNat:NodeName"] = $"node{i + 1}", ["ActorNat:Backend"] = "cluster",
                ["ActorNat:Remoting"] = $"{h}:0", ["ActorNat:Database"] = "memory", ["ActorNat:AdminToken"] = LiveNode.Token,
                ["ActorNat:Discovery"] = "dns", ["ActorNat:DiscoveryServiceName"] = Name,
                ["ActorNat:ManagementEndpoint"] = $"{h}:{management}", ["ActorNat:DiscoveryRequiredContactPoints"] = "3",
            })).ToList();
            var nodes = new List<LiveNode>();
            try
            {
                foreach (var s in starting) nodes.Add(await s);
                await TestWait.Until(() => Task.FromResult(nodes.All(n => ClusterOf(n).State.Members.Count(m => m.Status == MemberStatus.Up) == 3)),
                    TimeSpan.FromSeconds(90), "three Up members seen by every node");
                var members = ClusterOf(nodes[0]).State.Members.Select(m => m.Address.Host).Order().ToList();
                Assert.Equal(hosts, members);
                // Founded by the lowest address: the oldest member is 127.0.0.1's.
                Assert.Equal("127.0.0.1", ClusterOf(nodes[2]).State.Members.OrderBy(m => m, Member.AgeOrdering).First().Address.Host);
                Assert.True(asked > 0);

                // One NAT: configured through one node, a flow through another.
                await TestWait.Until(async () => (await new HttpClient().GetAsync(nodes[2].Node.MetricsUrl + "/healthz/ready")).IsSuccessStatusCode,
                    TimeSpan.FromSeconds(60), "node 3 ready");
                await nodes[0].Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { LiveNode.ArticleConfig } }, nodes[0].Auth);
                var v = await nodes[2].Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 38000, "192.0.2.53", 53) });
                Assert.Equal(Wire.VerdictAction.Translate, v.Action);
            }
            finally
            {
                foreach (var n in nodes) await n.DisposeAsync();
            }
        }
        finally
        {
            DnsServiceDiscovery.Resolve = (name, ct) => Dns.GetHostAddressesAsync(name, ct);
        }
    }
}
