using System.CommandLine;
using ActorNat.Node;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat conntrack`: conntrack-tools' commands, options and output against a node.</summary>
public static class ConntrackCommand
{
    public const string Version = "conntrack v1.4.7 (conntrack-tools)";

    public static Command Create()
    {
        var list = new Option<bool>("--dump", "-L") { Description = "List the conntrack table (lines on stdout, footer on stderr)." };
        var count = new Option<bool>("--count", "-C") { Description = "Print the number of entries." };
        var stats = new Option<bool>("--stats", "-S") { Description = "Print the counters (found, invalid, insert, insert_failed, drop, early_drop, …), one line per node." };
        var delete = new Option<bool>("--delete", "-D") { Description = "Delete the entries that match the filters." };
        var flush = new Option<bool>("--flush", "-F") { Description = "Delete every entry." };
        var get = new Option<bool>("--get", "-G") { Description = "Show the entry with --id." };
        var proto = new Option<string?>("--proto", "-p") { Description = "Filter: tcp, udp or icmp.", HelpName = "PROTO" };
        var src = new Option<string?>("--src", "-s", "--orig-src") { Description = "Filter: original source address.", HelpName = "IP" };
        var dst = new Option<string?>("--dst", "-d", "--orig-dst") { Description = "Filter: original destination address.", HelpName = "IP" };
        var sport = new Option<uint?>("--sport", "--orig-port-src") { Description = "Filter: original source port.", HelpName = "PORT" };
        var dport = new Option<uint?>("--dport", "--orig-port-dst") { Description = "Filter: original destination port.", HelpName = "PORT" };
        var state = new Option<string?>("--state") { Description = "Filter: TCP state (SYN_SENT, ESTABLISHED, TIME_WAIT, …).", HelpName = "STATE" };
        var id = new Option<ulong?>("--id") { Description = "Filter: conntrack id.", HelpName = "ID" };
        var output = new Option<string?>("--output", "-o") { Description = "Extended output: \"id\" appends id=N to each line.", HelpName = "FORMAT" };

        var cmd = new Command("conntrack", """
            Inspect and change the conntrack table of a node (or cluster), as conntrack-tools does.

            Examples:
              actornat conntrack -L
              actornat conntrack -L -p tcp --state ESTABLISHED
              actornat conntrack -D -s 172.18.0.2 --sport 38000 --token $TOKEN
            """)
        {
            list, count, stats, delete, flush, get, proto, src, dst, sport, dport, state, id, output,
        };
        cmd.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            var chosen = new[] { (list, "-L"), (count, "-C"), (stats, "-S"), (delete, "-D"), (flush, "-F"), (get, "-G") }
                .Where(x => parse.GetValue(x.Item1)).Select(x => x.Item2).ToList();
            if (chosen.Count == 0) chosen.Add("-L");
            if (chosen.Count > 1) throw new UsageException($"conntrack: choose one command, not {string.Join(" and ", chosen)}");
            var filter = new Wire.ConntrackFilter
            {
                SrcAddress = parse.GetValue(src) ?? "",
                DstAddress = parse.GetValue(dst) ?? "",
                State = parse.GetValue(state) ?? "",
            };
            if (parse.GetValue(proto) is { } p) filter.Protocol = SendCommand.ParseProtocol(p);
            if (parse.GetValue(sport) is { } sp) filter.SrcPort = sp;
            if (parse.GetValue(dport) is { } dp) filter.DstPort = dp;
            if (parse.GetValue(id) is { } i) filter.Id = i;
            var fmt = parse.GetValue(output);
            if (fmt is not null && fmt != "id") throw new UsageException($"conntrack: unsupported output format \"{fmt}\" (supported: id)");
            bool withId = fmt == "id";

            switch (chosen[0])
            {
                case "-L":
                {
                    int n = 0;
                    foreach (var e in await ListAsync(c, filter, ct))
                    {
                        await c.Out.WriteLineAsync(PacketMapper.Format(e, withId));
                        n++;
                    }
                    await c.Out.FlushAsync(ct);
                    await c.Err.WriteLineAsync($"{Version}: {n} flow entries have been shown.");
                    return 0;
                }
                case "-G":
                {
                    if (!filter.HasId) throw new UsageException("conntrack -G: give the entry with --id");
                    var e = await c.Admin.ConntrackGetAsync(new Wire.ConntrackGetRequest { Id = filter.Id }, c.Headers, cancellationToken: ct);
                    await c.Out.WriteLineAsync(PacketMapper.Format(e, withId));
                    await c.Err.WriteLineAsync($"{Version}: 1 flow entries have been shown.");
                    return 0;
                }
                case "-C":
                {
                    ulong n = IsEmpty(filter)
                        ? (await c.Admin.ConntrackCountAsync(new Wire.Empty(), c.Headers, cancellationToken: ct)).Count
                        : (ulong)(await ListAsync(c, filter, ct)).Count;
                    await c.Out.WriteLineAsync(n.ToString());
                    return 0;
                }
                case "-S":
                {
                    var reply = await c.Admin.ConntrackStatsAsync(new Wire.Empty(), c.Headers, cancellationToken: ct);
                    for (int cpu = 0; cpu < reply.Nodes.Count; cpu++)
                        await c.Out.WriteLineAsync(StatsLine(cpu, reply.Nodes[cpu]));
                    return 0;
                }
                case "-D":
                {
                    // conntrack -D prints what it deletes: list first, then delete the same filter.
                    var doomed = await ListAsync(c, filter, ct);
                    var deleted = await c.Admin.ConntrackDeleteAsync(filter, c.Headers, cancellationToken: ct);
                    foreach (var e in doomed) await c.Out.WriteLineAsync(PacketMapper.Format(e, withId));
                    await c.Out.FlushAsync(ct);
                    await c.Err.WriteLineAsync($"{Version}: {deleted.Count} flow entries have been deleted.");
                    return 0;
                }
                default: // -F
                    await c.Admin.ConntrackFlushAsync(new Wire.Empty(), c.Headers, cancellationToken: ct);
                    await c.Err.WriteLineAsync($"{Version}: connection tracking table has been emptied.");
                    return 0;
            }
        }));
        return cmd;
    }

    private static bool IsEmpty(Wire.ConntrackFilter f) =>
        f.Protocol == Wire.IpProtocol.Unspecified && f.SrcAddress == "" && f.DstAddress == "" && !f.HasSrcPort && !f.HasDstPort && f.State == "" && !f.HasId;

    internal static async Task<List<Wire.ConntrackEntry>> ListAsync(ClientContext c, Wire.ConntrackFilter filter, CancellationToken ct)
    {
        var all = new List<Wire.ConntrackEntry>();
        using var call = c.Admin.ConntrackList(filter, c.Headers, cancellationToken: ct);
        await foreach (var page in call.ResponseStream.ReadAllAsync(ct)) all.AddRange(page.Entries);
        return all;
    }

    /// <summary>`conntrack -S`'s line for one "cpu" (here: one node), as Core's ConntrackStats.Format prints it.</summary>
    public static string StatsLine(int cpu, Wire.NodeStats node) =>
        $"cpu={cpu,-8}\t" + string.Join(" ", node.Counters.Select(x => $"{x.Name}={x.Value}")) + " ";
}
