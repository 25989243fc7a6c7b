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
        var cmd = new Command("simulate",
            "Run a NAT scenario through ActorNat's engine on a virtual clock and print what it decided, as the kernel oracle prints it.\n" +
            "No packet leaves the machine.\n\nExample:\n  actornat simulate examples/article.json --lines")
        {
            scenario, lines, seed, pretty,
        };
        cmd.SetAction(parse =>
        {
            var file = parse.GetValue(scenario)!;
            try
            {
                var s = Scenario.Load(file.FullName);
                var result = new Simulator(s, new Simulator.LocalPath(parse.GetValue(seed)), parse.GetValue(seed)).Run();
                if (parse.GetValue(lines)) PrintLines(result);
                else Console.Out.WriteLine(SimulationJson.Serialize(SimulationJson.ToJson(result), parse.GetValue(pretty)));
                return 0;
            }
            catch (Exception e) when (e is ParseException or InvalidOperationException or FormatException or IOException
                                          or System.Text.Json.JsonException or KeyNotFoundException)
            {
                Console.Error.WriteLine($"actornat simulate: {file.Name}: {e.Message}");
                return 2;
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
