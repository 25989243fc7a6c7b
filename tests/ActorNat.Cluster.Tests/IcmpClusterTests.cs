using System.Text.Json;
using ActorNat.Cli.Simulate;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using ActorNat.Core.Tests.Conformance;
using ActorNat.Core.Tests.Properties;
using Xunit.Abstractions;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// ICMP through the cluster decides as the kernel does: a bounded random sample (seeded) of types and codes through three
/// nodes against the reference table built from the kernel's source, errors RELATED to flows whose entities live
/// anywhere in the cluster, and the icmp-types-and-errors scenario through a single node.
/// </summary>
public class IcmpClusterTests(ITestOutputHelper output)
{
    private static async Task<(long Invalid, long Error)> Counters(ClusterNatBackend nat)
    {
        var s = await nat.StatsAsync();
        return (s.Where(c => c.Name == "invalid").Sum(c => c.Value), s.Where(c => c.Name == "error").Sum(c => c.Value));
    }

    [Fact]
    public async Task Any_icmp_type_and_code_through_three_nodes_matches_the_kernel_reference()
    {
        await using var cluster = await TestCluster.Start(3);
        var admin = cluster.Nodes[0].Backend;
        foreach (var line in IcmpReference.Config) await admin.ApplyConfigAsync(line);
        int n = 0;
        var failures = new List<string>();
        // Alone: every class of type (request, reply, other, error, above 18), random codes, entering at every node.
        var random = new Random(1234);
        foreach (var (type, code) in Enumerable.Range(0, 40).Select(_ => (random.Next(256), random.Next(256))).ToList()
                     .Concat([(8, 0), (13, 5), (15, 0), (17, 0), (0, 0), (14, 0), (1, 0), (3, 3), (11, 0), (19, 0), (255, 255)]))
        {
            var nat = cluster.Nodes[n % 3].Backend;
            var before = await Counters(nat);
            var v = await nat.TranslateAsync(new Packet(FiveTuple.Icmp(IcmpReference.Client, IcmpReference.Server, (byte)type, (byte)code, (ushort)(1000 + n++))));
            var after = await Counters(nat);
            if (IcmpReference.CheckAlone(type, code, v, after.Invalid - before.Invalid, after.Error - before.Error) is { } f) failures.Add(f);
        }
        // Errors about a NATed UDP flow, sent in at another node than the flow's: found through the cluster.
        ushort port = 30000;
        foreach (var type in new[] { 3, 4, 5, 11, 12 })
            foreach (var code in new[] { 0, 3, 255 })
            {
                var original = new FiveTuple(Protocol.Udp, IcmpReference.Client, IcmpReference.Server, port++, 9999);
                var sent = await cluster.Nodes[port % 3].Backend.TranslateAsync(new Packet(original));
                var error = new Packet(FiveTuple.Icmp(IcmpReference.Server, sent.Rewritten.Src, (byte)type, (byte)code, 0)) { Embedded = sent.Rewritten };
                var v = await cluster.Nodes[(port + 1) % 3].Backend.TranslateAsync(error);
                if (IcmpReference.CheckRelated(type, code, v, sent.ConntrackId, original) is { } f) failures.Add(f);
            }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task The_icmp_scenario_through_one_node_passes_against_the_kernel()
    {
        const string name = "icmp-types-and-errors";
        await using var cluster = await TestCluster.Start(1);
        var scenario = Scenario.Load(ConformanceData.ScenarioPath(name));
        var result = await Task.Run(() => new Simulator(scenario, new ClusterPath(cluster, cluster.Nodes[0].Backend), 7).Run());
        var ours = JsonDocument.Parse(SimulationJson.Serialize(SimulationJson.ToJson(result), false)).RootElement;
        var vsKernel = OracleComparer.Compare(ConformanceData.Golden(name), ours);
        output.WriteLine(vsKernel.ToString());
        Assert.True(vsKernel.Ok, vsKernel.ToString());
        var results = ours.GetProperty("flows").EnumerateArray().Select(f => f.GetProperty("client_result").GetString()).ToList();
        var kernel = ConformanceData.Golden(name).GetProperty("flows").EnumerateArray().Select(f => f.GetProperty("client_result").GetString()).ToList();
        Assert.Equal(kernel, results); // refused=1 where the kernel's port unreachable reached the client
    }
}
