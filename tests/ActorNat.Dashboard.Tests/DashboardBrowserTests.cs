using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ActorNat.Cli.Bench;
using Grpc.Net.Client;
using Xunit.Abstractions;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Dashboard.Tests;

/// <summary>
/// The dashboard in a real browser: a 3-node cluster (cluster.sh, PostgreSQL) under a bounded bench load plus 20 TCP
/// flows that exhaust the article's 15-port --to-ports range; headless Chromium loads node 1's dashboard and every
/// panel is checked against what the node says through gRPC or the CLI; then node 3 is killed and shows as
/// unreachable, then leaves the table. Screenshots go to ACTORNAT_SCREENSHOT_DIR (docs/img for the README) or a temp dir.
/// </summary>
public sealed partial class DashboardBrowserTests(ITestOutputHelper output)
{
    private const string ExhaustDst = "198.51.100.1", ExhaustNatIp = "203.0.113.56";
    private const int ExhaustFlows = 20, ExhaustRange = 15; // --to-ports 55666-55680
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Dashboard_of_a_three_node_cluster_under_load_shows_every_panel_and_a_killed_node()
    {
        Assert.True(Chromium.Executable is not null, "chromium is not installed: bash deploy/install-deps.sh");
        await using var cluster = new LocalCluster();
        // ACTORNAT_SCREENSHOT_DIR=docs/img (relative to the repository) refreshes the README's pictures.
        var shots = Environment.GetEnvironmentVariable("ACTORNAT_SCREENSHOT_DIR") is { Length: > 0 } dir ? Path.Combine(cluster.Repo, dir)
            : Directory.CreateTempSubdirectory("actornat-dashboard-shots-").FullName;
        await cluster.UpAsync(3);
        using var channel = GrpcChannel.ForAddress(cluster.Grpc[1]);
        var admin = new Wire.AdminService.AdminServiceClient(channel);
        var nat = new Wire.NatService.NatServiceClient(channel);
        await admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { FlowSpace.ArticleConfig } });

        // 20 SYNs to one server port through the 15-port range: 15 entries, 5 counted exhaustion drops.
        int exhausted = 0;
        for (int i = 0; i < ExhaustFlows; i++)
        {
            var v = await nat.TranslateAsync(new Wire.TranslateRequest
            {
                Packet = new Wire.PacketMeta { Protocol = Wire.IpProtocol.Tcp, SrcAddress = $"172.18.9.{i + 1}", SrcPort = 40000, DstAddress = ExhaustDst, DstPort = 80, TcpFlags = 2 },
            });
            if (v.DropReason == "ports-exhausted") exhausted++;
        }
        Assert.Equal(ExhaustFlows - ExhaustRange, exhausted);

        using var load = StartBench(cluster);
        try
        {
            await using var browser = await Chromium.StartAsync(1400, 1000, TimeSpan.FromSeconds(60));
            await browser.NavigateAsync(cluster.Dashboard[1]);
            await CheckHealthyCluster(browser, cluster, admin);
            // A screenshot with some history: 20 s of 2 s samples.
            await browser.WaitForAsync("20 s of rates", "actornat.charts['chart-flows'].data[0].length >= 10", Wait);
            await browser.ScreenshotAsync(Path.Combine(shots, "dashboard.png"));
            output.WriteLine("screenshot: " + Path.Combine(shots, "dashboard.png"));

            // node 3 dies: first unreachable (Akka's failure detector; its numbers cannot be fetched), then downed and gone.
            var node3 = (string)(await browser.EvalAsync("actornat.cluster.members.find(m => m.view && m.view.node === 'node3').address"))!;
            await cluster.KillAsync(3);
            // Unreachable lasts a second or two before the split-brain resolver downs the node: the membership changes
            // list it; the members table loses it once it is removed.
            const string events = "[...document.querySelectorAll('#events tbody tr')].map(r => [...r.cells].map(c => c.textContent))";
            await browser.WaitForAsync("node 3 unreachable", $"{events}.some(r => r[2] === {Js(node3)} && r[3] === 'unreachable' && r[1] === 'node3')",
                Wait, "document.querySelector('#events tbody').innerText");
            await browser.ScreenshotAsync(Path.Combine(shots, "dashboard-node-unreachable.png"));
            await browser.WaitForAsync("node 3 removed", $"{events}.some(r => r[2] === {Js(node3)} && r[3] === 'removed')"
                + $" && actornat.cluster.members.length === 2 && ![...document.querySelectorAll('#members tbody tr')].some(r => r.cells[1].textContent === {Js(node3)})",
                TimeSpan.FromSeconds(120), "document.querySelector('#members tbody').innerText + ' / ' + document.querySelector('#events tbody').innerText");
            var order = (await browser.EvalAsync($"{events}.filter(r => r[2] === {Js(node3)}).map(r => r[3])"))!.AsArray().Select(x => (string)x!).Reverse().ToList();
            Assert.True(order.IndexOf("unreachable") < order.IndexOf("removed"), "unreachable before removed: " + string.Join(", ", order));
            await browser.WaitForAsync("two members up", "document.querySelectorAll('#members tbody tr .badge.up').length === 2", Wait, "document.querySelector('#members tbody').innerText");
            await browser.ScreenshotAsync(Path.Combine(shots, "dashboard-node-gone.png"));
        }
        finally
        {
            if (!load.HasExited) load.Kill();
            await load.WaitForExitAsync();
        }
    }

    private async Task CheckHealthyCluster(Chromium b, LocalCluster cluster, Wire.AdminService.AdminServiceClient admin)
    {
        // Members: three, all Up, each with its numbers, roles, shards and entries as the admin service reports them.
        await b.WaitForAsync("three members up with their numbers",
            "window.actornat && actornat.cluster && actornat.cluster.members.length === 3 && actornat.cluster.members.every(m => m.view && m.status === 'Up')"
            + " && document.querySelectorAll('#members tbody tr .badge.up').length === 3"
            // A member that joined last gets its first shards a rebalance later (seen in CI: 0 shards right after start).
            + " && [...document.querySelectorAll('#members tbody tr')].every(r => parseInt(r.cells[4].textContent.replace(/,/g, '')) > 0)",
            Wait, "document.body.innerText.slice(0, 800)");
        var status = await admin.ClusterStatusAsync(new Wire.Empty());
        var rows = (await b.EvalAsync("[...document.querySelectorAll('#members tbody tr')].map(r => [...r.cells].map(c => c.textContent))"))!.AsArray();
        Assert.Equal(3, rows.Count);
        foreach (var m in status.Members)
        {
            var row = rows.Select(r => r!.AsArray().Select(c => (string)c!).ToArray()).Single(r => r[1] == m.Address);
            Assert.Equal("Up", row[2]);
            Assert.Equal(string.Join(", ", m.Roles), row[3]);
            Assert.True(int.Parse(row[4].Replace(",", "")) > 0, "shards of " + m.Address);
            Assert.Equal("ok", row[7]);
        }
        // (Shards and entries move while the load runs: the table's come from the same ClusterStatus a poll earlier.)

        // Spread: one bar per node in each bar chart, the same numbers as the table.
        await b.WaitForAsync("shard and entry bars", "actornat.charts['chart-shards'].data[0].length === 3 && actornat.charts['chart-entries'].data[1].some(v => v > 0)", Wait,
            "JSON.stringify([actornat.charts['chart-shards'].data, actornat.charts['chart-entries'].data])");

        // Rates and latency: the bench's new flows and verdicts, the exhaustion drops, latency quantiles, live.
        const string series = "(id, f) => actornat.charts[id] && actornat.charts[id].data.slice(1).some(s => s.some(f))";
        await b.WaitForAsync("new flows/s, verdicts/s and latency", $"({series})('chart-flows', v => v > 0) && ({series})('chart-verdicts', v => v > 0) && ({series})('chart-latency', v => v > 0)",
            Wait, "JSON.stringify(Object.fromEntries(Object.entries(actornat.charts).map(([k, c]) => [k, c.data])))");
        var before = (await b.EvalAsync("actornat.updates"))!.GetValue<int>();
        await b.WaitForAsync("live updates", $"actornat.updates >= {before + 2}", Wait);
        Assert.True((await b.EvalAsync("actornat.charts['chart-drops'].series.some(s => s.label === 'ports-exhausted')"))!.GetValue<bool>());

        // Port pools: the exhausted range holds exactly its 15 ports; the bench's pool (10.0.2.15) holds some; drops counted.
        await b.WaitForAsync("the exhausted pool", $"[...document.querySelectorAll('#pools tbody tr')].some(r => r.cells[0].textContent === '{ExhaustNatIp}' && r.cells[1].textContent === 'tcp' && r.cells[2].textContent === '{ExhaustRange}')"
            + $" && [...document.querySelectorAll('#pools tbody tr')].some(r => r.cells[0].textContent === '{FlowSpace.ArticleNatIp}' && +r.cells[2].textContent.replace(/,/g, '') > 0)",
            Wait, "document.querySelector('#pools').innerText");
        var exhaustion = (string)(await b.EvalAsync("document.getElementById('exhaustion').textContent"))!;
        var drops = int.Parse(ExhaustionDrops().Match(exhaustion).Groups[1].Value.Replace(",", ""));
        Assert.True(drops >= ExhaustFlows - ExhaustRange, exhaustion);

        // Conntrack: the search box with conntrack-tools' filters; lines as `actornat conntrack -L` (conntrack's layout) prints them.
        const string filter = $"-p tcp -d {ExhaustDst} --dport 80";
        await b.EvalAsync($"document.getElementById('conntrack-q').value = {Js(filter)}; document.getElementById('conntrack-form').requestSubmit(); true");
        await b.WaitForAsync("the conntrack search result", $"document.getElementById('conntrack-out').innerText.includes('{ExhaustRange} flow entries have been shown')", Wait,
            "document.getElementById('conntrack-out').innerText");
        var shown = ((string)(await b.EvalAsync("document.getElementById('conntrack-out').innerText"))!).Split('\n').Where(l => l.StartsWith("tcp ")).ToList();
        var cli = Cli(cluster, "conntrack", "-L", "-p", "tcp", "-d", ExhaustDst, "--dport", "80").Split('\n').Where(l => l.Length > 0).ToList();
        Assert.Equal(ExhaustRange, shown.Count);
        Assert.Equal(cli.Select(NoTimer).Order(), shown.Select(NoTimer).Order());
        await b.EvalAsync("document.getElementById('conntrack-q').value = '-p foo'; document.getElementById('conntrack-form').requestSubmit(); true");
        await b.WaitForAsync("a bad filter's error", "!document.getElementById('conntrack-error').hidden && document.getElementById('conntrack-error').textContent.includes('unknown protocol')", Wait);
        await b.EvalAsync("document.getElementById('conntrack-q').value = '-p tcp'; document.getElementById('conntrack-form').requestSubmit(); true");
        await b.WaitForAsync("all TCP entries", "document.getElementById('conntrack-error').hidden && /[0-9]+ flow entries have been shown/.test(document.getElementById('conntrack-out').innerText)", Wait);

        // Configuration: the listings the admin service returns (`ip -4 -o addr`, `ip route`, `iptables -t nat -S`).
        var addr = await admin.AddressListAsync(new Wire.ListRequest());
        var route = await admin.RouteListAsync(new Wire.ListRequest());
        var rule = await admin.RuleListAsync(new Wire.ListRequest());
        await b.WaitForAsync("the configuration", $"document.getElementById('cfg-rules').textContent === {Js(string.Join("\n", rule.Lines))}", Wait, "document.getElementById('config-card').innerText");
        Assert.Equal(string.Join("\n", addr.Lines), (string)(await b.EvalAsync("document.getElementById('cfg-addr').textContent"))!);
        Assert.Equal(string.Join("\n", route.Lines), (string)(await b.EvalAsync("document.getElementById('cfg-route').textContent"))!);
        Assert.Contains("-A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -p tcp -j MASQUERADE --to-ports 55666-55680", rule.Lines);
    }

    /// <summary>A conntrack line without its seconds-left field (the CLI and the page read it a moment apart).</summary>
    private static string NoTimer(string line) => TimerField().Replace(line, "$1");

    private static string Js(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    private static string Cli(LocalCluster c, params string[] args)
    {
        var psi = new ProcessStartInfo(c.Actornat) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--target");
        psi.ArgumentList.Add(c.Grpc[1]);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), "actornat " + string.Join(' ', args) + " did not finish");
        Assert.True(p.ExitCode == 0, $"actornat {string.Join(' ', args)}: {e.Result}");
        return o.Result;
    }

    /// <summary>A bounded load (90 s at most, one stream of 16-packet batches) that keeps the rates moving.</summary>
    private static Process StartBench(LocalCluster c)
    {
        var psi = new ProcessStartInfo(c.Actornat) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "bench", "mixed", "--target", c.Grpc[1], "--duration", "90", "--warmup", "0", "--concurrency", "1", "--batch", "16", "--flows", "256", "--keep-table", "--no-config", "--quiet", "--json" })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    [GeneratedRegex(@"^(\S+ +\d+) \d+")]
    private static partial Regex TimerField();

    [GeneratedRegex(@"since the nodes started: ([\d,]+)")]
    private static partial Regex ExhaustionDrops();
}
