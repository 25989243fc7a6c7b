using System.CommandLine;
using ActorNat.Core;
using ActorNat.Core.Conntrack;

namespace ActorNat.Cli.Simulate;

/// <summary>`actornat simulate SCENARIO.json [--lines] [--seed N] [--pretty]`.</summary>
public static class SimulateCommand
{
    public static Command Create()
    {
        var scenario = new Argument<FileInfo>("scenario") { Description = "A scenario in the kernel oracle's format (../shared/oracle/README.md)." };
        var lines = new Option<bool>("--lines") { Description = "Print the `conntrack -L` lines of the final table instead of JSON." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random source (port search starts, ISNs).", DefaultValueFactory = _ => 1 };
        var pretty = new Option<bool>("--pretty") { Description = "Indent the JSON." };
        var maxWait = new Option<double>("--max-wait")
        {
            Description = "With --target: the longest single pause (seconds) the run may wait for the node's real clock (default 120).",
            DefaultValueFactory = _ => 120, HelpName = "SECONDS",
        };
        var dataplane = new Option<bool>("--dataplane")
        {
            Description = "With --target (a freshly started node): run the scenario's flows as real sockets in network namespaces, through " +
                          "`actornat dataplane` with the node as the router's NAT, using the kernel oracle's own flow code " +
                          "(--oracle); prints the oracle's JSON, for `compare` against the kernel. Needs root.",
        };
        var oracle = new Option<string?>("--oracle") { Description = "With --dataplane: the kernel-oracle script (default: $ORACLE_DIR/kernel-oracle, else ../shared/oracle/kernel-oracle above the working directory or this program).", HelpName = "PATH" };
        var cmd = new Command("simulate",
            "Run a NAT scenario through ActorNat's engine on a virtual clock and print what it decided, as the kernel oracle prints it.\n" +
            "No packet leaves the machine.\n\n" +
            "With --target URL (the global option) the same scenario drives a live, freshly started node over gRPC instead, and\n" +
            "the same JSON is printed. A live node runs on real time: every pause of the scenario (sleeps, intervals, timeouts)\n" +
            "is really waited, so a scenario that sleeps 40 s takes 40 s and its entries expire on the node's clock. Timeout\n" +
            "sysctls are sent as `sysctl -w` lines; a node that cannot take one fails the run naming the sysctl.\n\n" +
            "Example:\n  actornat simulate examples/article.json --lines\n" +
            "  actornat simulate examples/article.json --target http://127.0.0.1:50051 --token TOKEN")
        {
            scenario, lines, seed, pretty, maxWait, dataplane, oracle,
        };
        cmd.SetAction(parse =>
        {
            var file = parse.GetValue(scenario)!;
            try
            {
                var s = Scenario.Load(file.FullName);
                if (parse.GetValue(dataplane)) return DataplaneRun.Run(parse, s, file.FullName, parse.GetValue(oracle), parse.GetValue(maxWait));
                using var remote = RemoteTarget.Open(parse, TimeSpan.FromSeconds(parse.GetValue(maxWait)));
                Simulator.IPacketPath path = remote is null ? new Simulator.LocalPath(parse.GetValue(seed)) : remote.Path;
                var result = new Simulator(s, path, parse.GetValue(seed)).Run();
                if (parse.GetValue(lines)) PrintLines(result);
                else parse.InvocationConfiguration.Output.WriteLine(SimulationJson.Serialize(SimulationJson.ToJson(result), parse.GetValue(pretty)));
                return 0;
            }
            catch (Exception e) when (e is ParseException or InvalidOperationException or FormatException or IOException
                                          or System.Text.Json.JsonException or KeyNotFoundException or NotSupportedException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"actornat simulate: {file.Name}: {e.Message}");
                return 2;
            }
            catch (Grpc.Core.RpcException e)
            {
                parse.InvocationConfiguration.Error.WriteLine($"actornat simulate: {file.Name}: {Commands.ClientContext.CodeName(e.StatusCode)}: {e.Status.Detail}");
                return 1;
            }
        });
        return cmd;
    }

    /// <summary>The flows' entries in flow order, then any others, as `conntrack -L` prints them; the footer on stderr.</summary>
    public static void PrintLines(SimulationResult result)
    {
        var byOriginal = result.Entries.ToDictionary(e => e.Original);
        var shown = new HashSet<ulong>();
        int n = 0;
        foreach (var o in result.Flows)
        {
            if (byOriginal.TryGetValue(o.Original, out var e) && shown.Add(e.Id))
            {
                Console.Out.WriteLine(ConntrackFormatter.Format(e, result.DumpTimeMs));
                n++;
            }
        }
        foreach (var e in result.Entries.Where(e => !shown.Contains(e.Id)))
        {
            Console.Out.WriteLine(ConntrackFormatter.Format(e, result.DumpTimeMs));
            n++;
        }
        Console.Error.WriteLine(ConntrackFormatter.Footer(n));
    }
}
