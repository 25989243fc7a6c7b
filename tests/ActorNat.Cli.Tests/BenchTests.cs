using System.Text.Json;

namespace ActorNat.Cli.Tests;

/// <summary>
/// `actornat bench` against a real node, short and bounded: the JSON has its shape and no checked verdict is wrong.
/// No timing is asserted: performance is what the command measures, never what a test decides.
/// </summary>
public class BenchTests
{
    [Theory]
    [InlineData("new-flows", false)]
    [InlineData("established", false)]
    [InlineData("mixed", true)]
    public async Task Bench_reports_its_json_and_no_violations(string mode, bool unary)
    {
        await using var node = await TestNode.StartAsync();
        string[] args = ["bench", mode, "--target", node.Url, "--token", TestNode.Token, "--duration", "1", "--warmup", "0.3",
            "--concurrency", "2", "--batch", "64", "--flows", "200", "--check-every", "1", "--json", "--quiet"];
        if (unary) args = [.. args, "--unary"];
        var (code, stdout, stderr) = await TestNode.RunCli(args);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        using var doc = JsonDocument.Parse(stdout);
        var j = doc.RootElement;
        Assert.Equal(mode, j.GetProperty("mode").GetString());
        foreach (var name in new[] { "duration_s", "requests", "translated", "dropped", "failed", "per_second" })
            Assert.True(j.GetProperty(name).ValueKind == JsonValueKind.Number, name);
        var latency = j.GetProperty("latency_ms");
        foreach (var name in new[] { "p50", "p90", "p99", "p999", "max" })
            Assert.True(latency.GetProperty(name).ValueKind == JsonValueKind.Number, "latency_ms." + name);
        Assert.True(j.GetProperty("requests").GetInt64() > 0);
        Assert.Equal(0, j.GetProperty("failed").GetInt64());
        Assert.Equal(0, j.GetProperty("violations").GetInt64());
        Assert.True(j.GetProperty("checked").GetInt64() > 0);
        Assert.Equal(j.GetProperty("requests").GetInt64(),
            j.GetProperty("translated").GetInt64() + j.GetProperty("no_nat").GetInt64() + j.GetProperty("dropped").GetInt64());
        Assert.True(latency.GetProperty("p50").GetDouble() <= latency.GetProperty("max").GetDouble());
    }

    [Fact]
    public async Task A_second_run_from_a_later_first_flow_keeps_the_table_and_sums_every_node_pid()
    {
        await using var node = await TestNode.StartAsync();
        string[] common = ["bench", "new-flows", "--target", node.Url, "--token", TestNode.Token, "--duration", "0.5", "--warmup", "0",
            "--concurrency", "1", "--batch", "64", "--check-every", "1", "--json", "--quiet"];
        var (code, _, stderr) = await TestNode.RunCli(common);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        // The first run's entries stay (--keep-table); the second numbers its flows past them, so every flow it sends is
        // new and each checked verdict must report its entry created. --node-pid takes several pids (here: this process,
        // which hosts the node, twice) and reports their summed CPU time.
        var pid = Environment.ProcessId.ToString();
        (code, var stdout, stderr) = await TestNode.RunCli([.. common, "--keep-table", "--first-flow", "1000000", "--node-pid", $"{pid},{pid}"]);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        var j = JsonDocument.Parse(stdout).RootElement;
        Assert.True(j.GetProperty("checked").GetInt64() > 0);
        Assert.Equal(0, j.GetProperty("violations").GetInt64());
        Assert.Equal(JsonValueKind.Number, j.GetProperty("node_cpu_s").ValueKind);

        (code, _, stderr) = await TestNode.RunCli([.. common, "--node-pid", $"{pid},node2"]);
        Assert.Equal(2, code);
        Assert.Contains("--node-pid: 'node2' is not a process id", stderr);
        (code, _, stderr) = await TestNode.RunCli([.. common, "--first-flow", "-1"]);
        Assert.Equal(2, code);
        Assert.Contains("--first-flow", stderr);
    }

    [Fact]
    public async Task A_node_whose_masquerade_picks_another_address_is_a_violation()
    {
        await using var node = await TestNode.StartAsync();
        // The article's router, but the default route leaves by 203.0.113.56's subnet: MASQUERADE answers 203.0.113.56,
        // and a bench told to expect only that one address would pass; told to expect 10.0.2.15 (the article), it must fail.
        var config = Path.GetTempFileName();
        await File.WriteAllLinesAsync(config,
        [
            "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 203.0.113.56/24 dev eth0", "ip route add default via 203.0.113.4",
            "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
        ]);
        try
        {
            var (code, stdout, stderr) = await TestNode.RunCli("bench", "new-flows", "--target", node.Url, "--token", TestNode.Token,
                "--config", config, "--duration", "0.5", "--warmup", "0", "--concurrency", "1", "--json", "--quiet");
            Assert.True(code == 0, $"exit {code}: {stderr}");
            Assert.Equal(0, JsonDocument.Parse(stdout).RootElement.GetProperty("violations").GetInt64());
            // Now the bench's own expectation (the article's 10.0.2.15) against this node: every checked verdict is wrong.
            var checker = new ActorNat.Cli.Bench.VerdictChecker(new HashSet<string> { "10.0.2.15" });
            using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(node.Url);
            var nat = new ActorNat.Api.V1.NatService.NatServiceClient(channel);
            var f = ActorNat.Cli.Bench.FlowSpace.NewFlow(123_456_789);
            var v = await nat.TranslateAsync(new ActorNat.Api.V1.TranslateRequest { Packet = ActorNat.Cli.Bench.FlowSpace.Packet(f) });
            checker.CheckNew(f, v);
            Assert.Equal(1, checker.Violations);
            Assert.Contains("NAT address", checker.Examples[0]);
        }
        finally
        {
            File.Delete(config);
        }
    }
}
