using System.CommandLine;
using System.Text.RegularExpressions;
using ActorNat.Cli.Bench;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat bench [new-flows|established|mixed]`: a load generator against a node, with checked verdicts.</summary>
public static partial class BenchCommand
{
    public static Command Create()
    {
        var mode = new Argument<string>("mode")
        {
            Description = "new-flows (every packet opens a new UDP flow), established (packets both ways on --flows live flows) or mixed.",
            DefaultValueFactory = _ => "new-flows",
        };
        mode.AcceptOnlyFromAmong("new-flows", "established", "mixed");
        var unary = new Option<bool>("--unary") { Description = "One Translate call per packet (default: TranslateStream in batches)." };
        var batch = new Option<int>("--batch") { Description = "Packets per stream message (default 256).", DefaultValueFactory = _ => 256, HelpName = "N" };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Concurrent streams or unary callers (default 8).", DefaultValueFactory = _ => 8, HelpName = "N" };
        var duration = new Option<double>("--duration", "-t") { Description = "Measured seconds (default 10).", DefaultValueFactory = _ => 10, HelpName = "SECONDS" };
        var warmup = new Option<double>("--warmup") { Description = "Seconds of load before measuring (default 2).", DefaultValueFactory = _ => 2, HelpName = "SECONDS" };
        var flows = new Option<int>("--flows") { Description = "Live flows of established/mixed (default 1024).", DefaultValueFactory = _ => 1024, HelpName = "N" };
        var newShare = new Option<double>("--new-share") { Description = "mixed: share of packets that open new flows (default 0.5).", DefaultValueFactory = _ => 0.5, HelpName = "FRACTION" };
        var checkEvery = new Option<int>("--check-every") { Description = "Check one verdict in N (default 16; 1 checks all).", DefaultValueFactory = _ => 16, HelpName = "N" };
        var config = new Option<FileInfo?>("--config") { Description = "Configure the node from this file of `ip …`/`iptables …` lines instead of the article's router.", HelpName = "FILE" };
        var noConfig = new Option<bool>("--no-config") { Description = "Configure nothing: the node is already set up to masquerade 172.18.0.0/16 towards 192.0.2.0/24." };
        var keepTable = new Option<bool>("--keep-table") { Description = "Do not flush the conntrack table first (then entries of an earlier run may count as violations)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the text report." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress line on stderr." };
        var report = new Option<FileInfo?>("--report") { Description = "Also write a self-contained HTML page with plots: throughput over time and the latency histogram.", HelpName = "FILE.html" };
        var binary = new Option<bool>("--binary-addresses") { Description = "Carry the measured packets' IPv4 addresses as 32-bit numbers (PacketMeta.src_ip/dst_ip) instead of dotted quads; their verdicts come back the same way." };
        var nodePid = new Option<string?>("--node-pid") { Description = "The node's process id, when it runs on this machine: report its CPU time per verdict (steadier than verdicts/s on a shared machine). Several, comma-separated (one per --target node): their CPU time summed.", HelpName = "PID[,PID…]" };

        var firstFlow = new Option<long>("--first-flow") { Description = "Number the new flows from here (default 0): a second run against the same nodes with a higher start uses flows the first never sent.", HelpName = "N" };

        var cmd = new Command("bench", """
            Load a node with packets and measure verdicts per second and latency (HdrHistogram), as a data plane would.
            The traffic is UDP from 172.18.0.0/16 (65000 clients, ports 1024-65535) to 192.0.2.0/24 (254 servers × 60000 ports,
            a distinct server endpoint per new flow, so port exhaustion is not what is measured). Unless --no-config, the node
            is first given the article's router (docker0 172.18.0.1/16, eth0 10.0.2.15/24, default via 10.0.2.2, MASQUERADE),
            or the lines of --config; its conntrack table is flushed (admin token: --token) unless --keep-table. One verdict in --check-every is checked (new flow: translated, entry created, NAT address
            of the node, port in its class, reply tuple unique; established: rewritten to its mapping); any violation makes the
            exit code 3, since a fast wrong answer is not a result. A progress line is printed on stderr once a second.
            Latency is per call: one packet with --unary, one batch otherwise.

            Example:
              actornat bench new-flows --duration 10 --concurrency 4 --batch 256 --json
              actornat bench established --unary --concurrency 16 --target http://127.0.0.1:50051
              actornat bench new-flows -c 6 --target http://127.0.0.1:50051,http://127.0.0.1:50052,http://127.0.0.1:50053
            With several nodes in --target (comma-separated) the streams are spread over them (stream i to node i mod N),
            drawing from one flow space; the configuration, flush and listing go to the first node.
            """)
        {
            mode, unary, batch, concurrency, duration, warmup, flows, newShare, checkEvery, config, noConfig, keepTable, json, quiet, nodePid, report, binary, firstFlow,
        };
        cmd.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            var settings = new BenchSettings
            {
                Mode = parse.GetValue(mode) switch { "established" => BenchMode.Established, "mixed" => BenchMode.Mixed, _ => BenchMode.NewFlows },
                Unary = parse.GetValue(unary),
                Batch = parse.GetValue(batch),
                Concurrency = parse.GetValue(concurrency),
                Duration = TimeSpan.FromSeconds(parse.GetValue(duration)),
                Warmup = TimeSpan.FromSeconds(parse.GetValue(warmup)),
                Flows = parse.GetValue(flows),
                NewShare = parse.GetValue(newShare),
                CheckEvery = parse.GetValue(checkEvery),
                NodePids = ParsePids(parse.GetValue(nodePid)),
                BinaryAddresses = parse.GetValue(binary),
            };
            if (settings.Batch < 1) throw new UsageException("--batch must be at least 1");
            if (settings.Concurrency < 1) throw new UsageException("--concurrency must be at least 1");
            if (settings.Duration <= TimeSpan.Zero || settings.Warmup < TimeSpan.Zero) throw new UsageException("--duration must be > 0 and --warmup >= 0");
            if (parse.GetValue(firstFlow) < 0) throw new UsageException("--first-flow must be >= 0");
            if (settings.Flows < 1) throw new UsageException("--flows must be at least 1");
            if (settings.CheckEvery < 1) throw new UsageException("--check-every must be at least 1");
            if (settings.NewShare is < 0 or > 1) throw new UsageException("--new-share must be within 0..1");

            // Configure (or not), then learn which NAT addresses are right.
            var file = parse.GetValue(config);
            bool configure = !parse.GetValue(noConfig);
            IReadOnlySet<string>? natAddresses;
            if (configure && file is null)
            {
                // A node that a bench configured before keeps its configuration (adding an address twice is refused).
                var have = await c.Admin.AddressListAsync(new Wire.ListRequest(), c.Headers, cancellationToken: ct);
                if (have.Lines.Any(l => l.Contains("inet " + FlowSpace.ArticleNatIp + "/", StringComparison.Ordinal)))
                {
                    configure = false;
                    await c.Err.WriteLineAsync($"actornat bench: the node already has {FlowSpace.ArticleNatIp}; keeping its configuration");
                }
            }
            if (configure)
            {
                var lines = file is null
                    ? FlowSpace.ArticleConfig
                    : (await File.ReadAllLinesAsync(file.FullName, ct)).Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#').ToArray();
                await c.Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { lines } }, c.Headers, cancellationToken: ct);
            }
            if (file is null && !parse.GetValue(noConfig)) natAddresses = new HashSet<string> { FlowSpace.ArticleNatIp };
            else
            {
                // Any address the node holds (MASQUERADE picks one of the out interface's).
                var listing = await c.Admin.AddressListAsync(new Wire.ListRequest(), c.Headers, cancellationToken: ct);
                natAddresses = listing.Lines.SelectMany(l => Inet().Matches(l).Select(m => m.Groups[1].Value)).ToHashSet();
                if (natAddresses.Count == 0) natAddresses = null;
            }

            // Every run starts from an empty table, so that "new flow" means new (flows of an earlier run may still live).
            if (!parse.GetValue(keepTable)) await c.Admin.ConntrackFlushAsync(new Wire.Empty(), c.Headers, cancellationToken: ct);
            var checker = new VerdictChecker(natAddresses);
            var channels = c.Targets.Select(BenchRunner.LoadChannel).ToList();
            using var disposeChannels = new Disposables(channels);
            var clients = channels.Select(ch => new Wire.NatService.NatServiceClient(ch)).ToList();
            var runner = new BenchRunner(clients[0], settings, checker, c.Headers) { Nodes = clients, FirstFlow = parse.GetValue(firstFlow) };
            await runner.OpenFlowsAsync(ct);
            bool tty = !Console.IsErrorRedirected;
            Action<string>? progress = parse.GetValue(quiet) ? null : line =>
            {
                if (tty) c.Err.Write("\r" + line.PadRight(100));
                else c.Err.WriteLine(line);
            };
            var result = await runner.RunAsync(progress, ct);
            if (progress is not null && tty) c.Err.WriteLine();
            if (parse.GetValue(json)) await c.Out.WriteLineAsync(result.ToJson().ToJsonString());
            else foreach (var line in Report(result)) await c.Out.WriteLineAsync(line);
            if (parse.GetValue(report) is { } reportFile)
            {
                await File.WriteAllTextAsync(reportFile.FullName, Reports.BenchReport.Render(result, Report(result)), CancellationToken.None);
                await c.Err.WriteLineAsync($"actornat bench: report written to {reportFile.FullName}");
            }
            foreach (var e in result.ViolationExamples) await c.Err.WriteLineAsync("actornat bench: violation: " + e);
            if (result.Violations > 0)
            {
                await c.Err.WriteLineAsync($"actornat bench: {result.Violations} of {result.Checked} checked verdicts were wrong; this run is not a result");
                return 3;
            }
            if (result.Requests > 0 && result.Failed == result.Requests)
            {
                await c.Err.WriteLineAsync("actornat bench: every call failed: " + string.Join("; ", result.Errors));
                return 1;
            }
            return 0;
        }));
        return cmd;
    }

    private sealed class Disposables(IEnumerable<IDisposable> items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var d in items) d.Dispose();
        }
    }

    /// <summary>--node-pid's value: one process id or several, comma-separated.</summary>
    private static IReadOnlyList<int> ParsePids(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return [];
        var pids = new List<int>();
        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries))
            pids.Add(int.TryParse(part, out var pid) && pid > 0 ? pid : throw new UsageException($"--node-pid: '{part}' is not a process id"));
        return pids;
    }

    [GeneratedRegex(@"inet (\d+\.\d+\.\d+\.\d+)")]
    private static partial Regex Inet();

    public static IEnumerable<string> Report(BenchResult r)
    {
        var j = r.ToJson();
        var l = j["latency_ms"]!;
        yield return $"mode {j["mode"]}, {j["transport"]}{(r.Settings.Unary ? "" : $" batch {r.Settings.Batch}")}, concurrency {r.Settings.Concurrency}, " +
                     $"{r.DurationSeconds:0.0} s measured after {r.Settings.Warmup.TotalSeconds:0.#} s warm-up";
        yield return $"verdicts     {r.Requests:N0} in {r.Rpcs:N0} calls: {r.PerSecond:N0}/s";
        yield return $"translated   {r.Translated:N0}   no-nat {r.NoNat:N0}   dropped {r.Dropped:N0}" +
                     (r.DroppedByReason.Count > 0 ? " (" + string.Join(", ", r.DroppedByReason.Select(kv => $"{kv.Key} {kv.Value:N0}")) + ")" : "") +
                     $"   failed {r.Failed:N0}";
        yield return $"latency ms   per {l["unit"]}: p50 {l["p50"]}  p90 {l["p90"]}  p99 {l["p99"]}  p99.9 {l["p999"]}  max {l["max"]}";
        yield return $"checked      {r.Checked:N0} verdicts, {r.Violations} violations";
        foreach (var e in r.Errors) yield return "error        " + e;
    }
}
