using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ActorNat.Node;
using ActorNat.Node.Dashboard;
using Grpc.Net.Client;
using YamlDotNet.Serialization;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Deploy.Tests;

/// <summary>
/// deploy/docker/grafana: the dashboard compose provisions, and every metric (and selector label) it queries in a
/// real cluster-backend node's scrape after some traffic.
/// </summary>
public sealed partial class GrafanaDashboardTests
{
    private static readonly string Root = FindRoot();
    private static string Grafana(string rel) => Path.Combine(Root, "deploy", "docker", "grafana", rel);

    private static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "ActorNat.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("ActorNat.sln not found");
    }

    private static JsonObject Dashboard() => JsonNode.Parse(File.ReadAllText(Grafana("dashboards/actornat.json")))!.AsObject();

    private static List<string> Expressions() =>
        Dashboard()["panels"]!.AsArray().SelectMany(p => p!["targets"]?.AsArray() ?? []).Select(t => (string)t!["expr"]!).ToList();

    [Fact]
    public void Compose_provisions_grafana_with_the_prometheus_data_source_and_the_dashboard()
    {
        var yaml = new DeserializerBuilder().Build();
        var compose = yaml.Deserialize<Dictionary<string, object>>(File.ReadAllText(Path.Combine(Root, "deploy/docker/docker-compose.yml")));
        var grafana = (Dictionary<object, object>)((Dictionary<object, object>)compose["services"])["grafana"];
        var volumes = ((List<object>)grafana["volumes"]).Cast<string>().Select(v => v.Split(':')).ToList();
        Assert.Contains(volumes, v => v[0] == "./grafana/provisioning" && v[1] == "/etc/grafana/provisioning");
        var dashboards = volumes.Single(v => v[0] == "./grafana/dashboards")[1];
        Assert.All(volumes, v => Assert.True(Directory.Exists(Path.Combine(Root, "deploy/docker", v[0])), v[0]));

        var provider = yaml.Deserialize<Dictionary<string, object>>(File.ReadAllText(Grafana("provisioning/dashboards/actornat.yml")));
        var path = (string)((Dictionary<object, object>)((Dictionary<object, object>)((List<object>)provider["providers"])[0])["options"])["path"];
        Assert.Equal(dashboards, path);
        var sources = yaml.Deserialize<Dictionary<string, object>>(File.ReadAllText(Grafana("provisioning/datasources/prometheus.yml")));
        var source = (Dictionary<object, object>)((List<object>)sources["datasources"])[0];
        Assert.Equal("http://prometheus:9090", (string)source["url"]);
        // Every panel and query uses the provisioned data source.
        var uid = (string)source["uid"];
        foreach (var p in Dashboard()["panels"]!.AsArray().Where(p => (string?)p!["type"] != "row"))
        {
            Assert.Equal(uid, (string?)p!["datasource"]!["uid"]);
            Assert.NotEmpty(p["targets"]!.AsArray());
        }
        var queried = Expressions().SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();
        foreach (var topic in new[] { "port_pool_used", "new_flows_total", "verdicts_total", "drops_total", "verdict_duration_seconds_bucket", "journal_write_duration_seconds", "node_ready", "cluster_shards" })
            Assert.Contains(queried, m => m.Contains(topic));
    }

    [Fact]
    public async Task Every_metric_the_dashboard_queries_is_in_a_cluster_nodes_scrape()
    {
        var dir = Directory.CreateTempSubdirectory("actornat-grafana-");
        try
        {
            var node = NatNode.Create(overrides: new Dictionary<string, string?>
            {
                ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0",
                ["ActorNat:Backend"] = "cluster",
                ["ActorNat:Remoting"] = "127.0.0.1:0",
                ["ActorNat:Database"] = "sqlite:" + Path.Combine(dir.FullName, "actornat.db"),
            });
            await using (node)
            {
                await node.StartAsync();
                using var channel = GrpcChannel.ForAddress(node.GrpcUrl);
                var admin = new Wire.AdminService.AdminServiceClient(channel);
                await admin.ApplyConfigAsync(new Wire.ConfigLines
                {
                    Lines = { "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip route add default via 10.0.2.2", "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE" },
                });
                var nat = new Wire.NatService.NatServiceClient(channel);
                for (uint i = 0; i < 5; i++)
                    await nat.TranslateAsync(new Wire.TranslateRequest { Packet = new Wire.PacketMeta { Protocol = Wire.IpProtocol.Udp, SrcAddress = "172.18.0.2", SrcPort = 30000 + i, DstAddress = "192.0.2.53", DstPort = 53 } });

                using var http = new HttpClient();
                var scrape = ScrapeText.Parse(await http.GetStringAsync(node.MetricsUrl + "/metrics"));
                var labels = scrape.GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.SelectMany(s => s.Labels.Keys).ToHashSet());
                foreach (var expr in Expressions())
                {
                    foreach (Match m in Selector().Matches(expr))
                    {
                        var name = m.Groups[1].Value;
                        Assert.True(labels.ContainsKey(name), $"the dashboard queries {name} (in \"{expr}\"), which the node does not export");
                        foreach (Match l in LabelMatcher().Matches(m.Groups[2].Value))
                            Assert.True(labels[name].Contains(l.Groups[1].Value), $"{name} has no label {l.Groups[1].Value} (in \"{expr}\")");
                    }
                    foreach (Match by in ByClause().Matches(expr))
                        foreach (var label in by.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries))
                            Assert.True(label == "le" ? MetricName().Matches(expr).Any(n => n.Value.EndsWith("_bucket"))
                                    : MetricName().Matches(expr).Any(n => labels.TryGetValue(n.Value, out var ls) && ls.Contains(label)),
                                $"no metric of \"{expr}\" has the label {label} it groups by");
                }
            }
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    [GeneratedRegex(@"actornat_[a-z_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"(actornat_[a-z_]+)(\{[^}]*\})?")]
    private static partial Regex Selector();

    [GeneratedRegex(@"([a-z_]+)\s*=~?")]
    private static partial Regex LabelMatcher();

    [GeneratedRegex(@"by \(([^)]*)\)")]
    private static partial Regex ByClause();
}
