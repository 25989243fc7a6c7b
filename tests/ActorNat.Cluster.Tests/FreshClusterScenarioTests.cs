using System.Text.Json;
using ActorNat.Cli.Simulate;
using ActorNat.Core.Tests.Conformance;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// A scenario through a FRESH three-node cluster (its shards still settling), as `actornat simulate --target` runs it
/// against `deploy/local/cluster.sh up 3`: issue 12's UDP stream that lost its [ASSURED] through three nodes only.
/// </summary>
public class FreshClusterScenarioTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_mixed_udp_stream_scenario_through_a_fresh_three_node_cluster_passes_against_the_kernel()
    {
        const string name = "udp-stream-mixed";
        await using var cluster = await TestCluster.Start(3, PostgresServer.Instance.NewDatabase());
        var scenario = Scenario.Load(ConformanceData.ScenarioPath(name));
        var result = await Task.Run(() => new Simulator(scenario, new ClusterPath(cluster, cluster.Nodes[1].Backend), 7).Run());
        var ours = JsonDocument.Parse(SimulationJson.Serialize(SimulationJson.ToJson(result), false)).RootElement;
        var vsKernel = OracleComparer.Compare(ConformanceData.Golden(name), ours);
        output.WriteLine(vsKernel.ToString());
        Assert.True(vsKernel.Ok, vsKernel.ToString());
    }
}
