using System.CommandLine;
using ActorNat.Cli.Chaos;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat chaos`: failover under a seeded load and seeded faults, then the checks (see docs/RELIABILITY.md).</summary>
public static class ChaosCommand
{
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Nodes of the local cluster started with deploy/local/cluster.sh (default 3).", DefaultValueFactory = _ => 3 };
        var faults = new Option<int>("--faults") { Description = "Faults to inject (default 6).", DefaultValueFactory = _ => 6 };
        var seed = new Option<int>("--seed") { Description = "Seed of the load and the fault schedule (default 1).", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the report." };
        var targets = new Option<string?>("--targets") { Description = "URL,URL,…: a running cluster instead of starting one (faults only with --run-dir of the cluster.sh that runs it).", HelpName = "URLS" };
        var runDir = new Option<string?>("--run-dir") { Description = "cluster.sh run directory (default REPO/.run/chaos).", HelpName = "DIR" };
        var kinds = new Option<string>("--kinds") { Description = "Fault kinds to draw from: kill,pause,partition (default all three).", DefaultValueFactory = _ => "kill,pause,partition" };
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent requests of the load (default 8).", DefaultValueFactory = _ => 8 };
        var failureFile = new Option<string?>("--failure-file") { Description = "Where a failed run writes seed, schedule and history (default ./chaos-failure-seedS.json).", HelpName = "FILE" };
        var keep = new Option<bool>("--keep") { Description = "Leave the cluster running afterwards." };
        var scale = new Option<bool>("--scale") { Description = "Scale-out instead of faults: throughput with 3, 2, 1 nodes (graceful leaves under load), then 2, 3 (joins under load)." };
        var seconds = new Option<double>("--seconds") { Description = "--scale: seconds measured at each size (default 10).", DefaultValueFactory = _ => 10 };
        var pause = new Option<double>("--pause-seconds") { Description = "How long SIGSTOP lasts (default 10).", DefaultValueFactory = _ => 10 };
        var report = new Option<FileInfo?>("--report") { Description = "Also write a self-contained HTML page with plots: requests per second, failures, each fault and its recovery.", HelpName = "FILE.html" };
        var journalOnly = new Option<bool>("--journal-only") { Description = "Only check what a run left in --run-dir: the durable journal (reservations, created entities) and the activation logs." };
        var listing = new Option<bool>("--listing-probe") { Description = "At each kill, list the conntrack table through a survivor every 250 ms until it holds every entry acknowledged before the kill; reports the time (listing_complete_s)." };
        var cmd = new Command("chaos", "Inject faults (SIGKILL+restart, SIGSTOP/SIGCONT, loopback partition) under a seeded load; check that no acknowledged mapping is lost, no reply tuple is held twice, no entity runs twice; report recovery times. Exit 1 on a failed check.")
        {
            nodes, faults, seed, json, targets, runDir, kinds, concurrency, failureFile, keep, scale, seconds, pause, journalOnly, report, listing,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var err = parse.InvocationConfiguration.Error;
            var token = parse.GetValue(GlobalOptions.Token) ?? Environment.GetEnvironmentVariable("ACTORNAT_TOKEN");
            var t = parse.GetValue(targets);
            var opts = new ChaosOptions
            {
                Nodes = parse.GetValue(nodes), Faults = parse.GetValue(faults), Seed = parse.GetValue(seed), Kinds = parse.GetValue(kinds)!,
                Concurrency = parse.GetValue(concurrency), FailureFile = parse.GetValue(failureFile), KeepCluster = parse.GetValue(keep),
                Targets = string.IsNullOrEmpty(t) ? [] : t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                RunDir = parse.GetValue(runDir), Token = token, PauseSeconds = parse.GetValue(pause),
                ListingProbe = parse.GetValue(listing),
            };
            if (opts.Nodes < 3 && !parse.GetValue(scale) && opts.Targets.Count == 0) { await err.WriteLineAsync("actornat chaos: --nodes must be at least 3 (a majority must survive a fault)"); return 2; }
            try
            {
                if (parse.GetValue(journalOnly))
                {
                    var script = ClusterControl.FindScript() ?? throw new InvalidOperationException("deploy/local/cluster.sh not found");
                    var dir = opts.RunDir ?? Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(script)!)!)!, ".run", "chaos");
                    var cs = new ClusterControl(script, dir).PostgresConnectionString() ?? throw new InvalidOperationException("no PostgreSQL in " + dir);
                    var r = await JournalCheck.Run(cs, ct);
                    // The activation logs too (kills unknown here: a killed process's activations end with its last line).
                    var a = ActivationCheck.Run(dir, []);
                    await parse.InvocationConfiguration.Output.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(new { journal = r, activations = a }));
                    return r.DuplicateReservations + r.DuplicateEntityReplies + a.Overlaps > 0 ? 1 : 0;
                }
                if (parse.GetValue(scale))
                {
                    var (code, text, js) = await new ScaleRunner(opts with { Nodes = Math.Max(opts.Nodes, 3) }, parse.GetValue(seconds), err).Run(ct);
                    await parse.InvocationConfiguration.Output.WriteLineAsync(parse.GetValue(json) ? js : text);
                    return code;
                }
                var runner = new ChaosRunner(opts, err);
                var (exit, summary, j) = await runner.Run(ct);
                await parse.InvocationConfiguration.Output.WriteLineAsync(parse.GetValue(json) ? j : summary);
                if (parse.GetValue(report) is { } reportFile)
                {
                    await File.WriteAllTextAsync(reportFile.FullName, Reports.ChaosReport.Render(runner.Faults, runner.History, exit, summary), CancellationToken.None);
                    await err.WriteLineAsync($"actornat chaos: report written to {reportFile.FullName}");
                }
                return exit;
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or Grpc.Core.RpcException)
            {
                await err.WriteLineAsync($"actornat chaos: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
