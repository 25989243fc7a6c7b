using System.Text.Json;
using ActorNat.Cli.Simulate;
using ActorNat.Core.Tests.Conformance;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// Every conformance scenario driven through a 3-node cluster: it must pass the same comparison with the kernel's
/// recorded output that Core alone passes, and agree with Core alone (same seed) on everything the kernel decides
/// deterministically: which flows get an entry, the NAT address, whether the port is kept, state, flags.
/// </summary>
public class ClusterConformanceTests : IClassFixture<ClusterConformanceTests.SharedCluster>
{
    /// <summary>One 3-node cluster on PostgreSQL for all scenarios; each scenario starts from an empty table and configuration.</summary>
    public sealed class SharedCluster : IAsyncLifetime
    {
        public TestCluster Cluster { get; private set; } = null!;
        public async Task InitializeAsync() => Cluster = await TestCluster.Start(3, PostgresServer.Instance.NewDatabase());
        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    private readonly SharedCluster _shared;
    private readonly ITestOutputHelper _output;

    public ClusterConformanceTests(ITestOutputHelper output, SharedCluster shared)
    {
        _output = output;
        _shared = shared;
    }

    public static TheoryData<string> Scenarios() => ConformanceData.Goldens();

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Scenario_through_three_nodes_decides_as_core_and_the_kernel(string name)
    {
        const ulong seed = 7;
        var cluster = _shared.Cluster;
        await Reset(cluster);
        var ingress = cluster.Nodes[name.Length % cluster.Nodes.Count].Backend; // enter at different nodes
        var scenario = Scenario.Load(ConformanceData.ScenarioPath(name));
        var result = await Task.Run(() => new Simulator(scenario, new ClusterPath(cluster, ingress), seed).Run());
        var ours = JsonDocument.Parse(SimulationJson.Serialize(SimulationJson.ToJson(result), false)).RootElement;

        var vsKernel = OracleComparer.Compare(ConformanceData.Golden(name), ours);
        _output.WriteLine(vsKernel.ToString());
        Assert.True(vsKernel.Ok, $"{name} through the cluster vs the kernel:\n{vsKernel}");

        var core = ConformanceData.Simulate(name, seed);
        var flows = ours.GetProperty("flows").EnumerateArray().ToList();
        var coreFlows = core.GetProperty("flows").EnumerateArray().ToList();
        Assert.Equal(coreFlows.Count, flows.Count);
        for (int i = 0; i < flows.Count; i++)
            Assert.Equal(Deterministic(coreFlows[i]), Deterministic(flows[i]));
    }

    /// <summary>What a flow's verdict must be whatever the random source drew.</summary>
    private static string Deterministic(JsonElement flow)
    {
        if (flow.GetProperty("conntrack").ValueKind == JsonValueKind.Null) return "no entry";
        var ct = flow.GetProperty("conntrack");
        var nat = flow.GetProperty("nat");
        var state = ct.TryGetProperty("state", out var s) ? s.GetString() : "-";
        var flags = string.Join(",", ct.GetProperty("flags").EnumerateArray().Select(f => f.GetString()).Order());
        return $"{nat.GetProperty("src").GetString()} kept={!nat.GetProperty("port_changed").GetBoolean()} {state} [{flags}]";
    }

    /// <summary>An empty table and configuration: delete every entry, then undo every line.</summary>
    private static async Task Reset(TestCluster cluster)
    {
        var nat = cluster.Nodes[0].Backend;
        await nat.DeleteAsync(Core.Conntrack.ConntrackFilter.All);
        var config = await nat.GetConfigAsync();
        await nat.ApplyConfigAsync("iptables -t nat -F");
        foreach (var route in config.Routes.Where(r => !r.Contains("proto kernel")))
            await nat.ApplyConfigAsync("ip route del " + route.Split(" dev ")[0]);
        foreach (var addr in config.Addresses.Reverse()) // secondaries (listed last) before their primaries
        {
            var words = addr.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            await nat.ApplyConfigAsync($"ip addr del {words[3]} dev {words[1]}");
        }
        foreach (var line in Core.Conntrack.ConntrackTimeouts.Default.AsSysctlLines())
            await nat.ApplyConfigAsync("sysctl -w net.netfilter." + line);
        await nat.ApplyConfigAsync("sysctl -w net.ipv4.conf.all.promote_secondaries=0");
        await TestCluster.Until(async () => (await nat.CountAsync()) == 0, TimeSpan.FromSeconds(30), "an empty table");
    }
}
