using System.Text.Json;
using ActorNat.Cli.Simulate;
using ActorNat.Core.Tests.Conformance;
using Xunit.Abstractions;

namespace ActorNat.Cli.Tests;

/// <summary>`actornat simulate SCENARIO --target URL`: the oracle's scenarios through a live node decide as the kernel did.</summary>
public class RemoteSimulateTests(ITestOutputHelper output)
{
    private static string Conformance(string kind, string name) => Path.Combine(AppContext.BaseDirectory, "conformance", kind, name + ".json");

    [Theory]
    [InlineData("article")]
    [InlineData("states-timeouts")]          // sleeps: about 8 s of real waiting on the node's clock
    [InlineData("secondary-address-states")] // a UDP stream formed by a real 2.3 s pause
    [InlineData("icmp-types-and-errors")]    // ICMP types, errors RELATED (a port unreachable translated back), a refused SYN
    [InlineData("conntrack-delete-sysctl")]  // conntrack -D of a flow the pool answered alone, then sysctl -w: about 5 s
    public async Task Scenario_through_a_live_node_passes_compare_against_the_kernel(string name)
    {
        await using var node = await TestNode.StartAsync();
        var (code, stdout, stderr) = await TestNode.RunCli("simulate", Conformance("scenarios", name), "--target", node.Url, "--token", TestNode.Token);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        using var project = JsonDocument.Parse(stdout);
        using var kernel = JsonDocument.Parse(await File.ReadAllTextAsync(Conformance("golden", name)));
        using var scenario = JsonDocument.Parse(await File.ReadAllTextAsync(Conformance("scenarios", name)));
        var result = OracleComparer.Compare(kernel, project, scenario);
        output.WriteLine(result.ToString());
        Assert.True(result.Ok, result.ToString());
        Assert.True(result.Passed > 0);
    }

    [Fact]
    public async Task A_node_that_is_not_fresh_is_refused()
    {
        await using var node = await TestNode.StartAsync();
        var first = await TestNode.RunCli("simulate", Conformance("scenarios", "article"), "--target", node.Url, "--token", TestNode.Token);
        Assert.Equal(0, first.Code);
        var (code, _, stderr) = await TestNode.RunCli("simulate", Conformance("scenarios", "article"), "--target", node.Url, "--token", TestNode.Token);
        Assert.Equal(2, code);
        Assert.Contains("freshly started node", stderr);
    }

    [Fact]
    public async Task Timeout_sysctls_reach_the_node_and_match_the_in_process_run()
    {
        var text = await File.ReadAllTextAsync(Conformance("scenarios", "article"));
        var doc = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        doc["namespaces"]!["router"]!["sysctl"] = new System.Text.Json.Nodes.JsonObject
        {
            ["net.netfilter.nf_conntrack_udp_timeout"] = "7",
            ["net.netfilter.nf_conntrack_tcp_timeout_established"] = "100",
        };
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, doc.ToJsonString());
        try
        {
            await using var node = await TestNode.StartAsync();
            var remote = await TestNode.RunCli("simulate", file, "--target", node.Url, "--token", TestNode.Token);
            Assert.True(remote.Code == 0, remote.Err);
            var timeouts = JsonDocument.Parse(remote.Out).RootElement.GetProperty("flows").EnumerateArray()
                .Select(f => f.GetProperty("conntrack").GetProperty("timeout").GetInt64()).ToList();
            Assert.InRange(timeouts[0], 5, 7);   // udp: 7 s
            Assert.InRange(timeouts[1], 98, 100); // tcp established: 100 s
        }
        finally
        {
            File.Delete(file);
        }
    }
}
