using System.Text.Json;
using System.Text.Json.Nodes;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Net;

namespace ActorNat.Cli.Simulate;

/// <summary>Writes a simulation result in the kernel oracle's output format, so `compare` reads both alike.</summary>
public static class SimulationJson
{
    public static JsonObject ToJson(SimulationResult r)
    {
        var byOriginal = r.Entries.ToDictionary(e => e.Original);
        var used = new HashSet<ulong>();
        var flows = new JsonArray();
        foreach (var o in r.Flows)
        {
            var f = new JsonObject
            {
                ["proto"] = o.Flow.Proto,
                ["src"] = o.Flow.Src,
                ["dst"] = o.Flow.Dst,
                ["reply_requested"] = o.Flow.Reply,
                ["label"] = o.Flow.Label,
                ["client_result"] = o.ClientResult,
            };
            if (o.Flow.Proto == "icmp")
            {
                f["id"] = (int)o.Original.IcmpId;
                if (o.Flow.IcmpTypeGiven)
                {
                    f["type"] = o.Flow.IcmpType;
                    f["code"] = o.Flow.IcmpCode;
                }
            }
            else
            {
                f["sport"] = (int)o.Original.SPort;
                f["dport"] = (int)o.Original.DPort;
            }
            if (o.Flow.Label is null) f.Remove("label");
            if (byOriginal.TryGetValue(o.Original, out var e))
            {
                used.Add(e.Id);
                f["conntrack"] = Entry(e, r.DumpTimeMs);
                f["nat"] = new JsonObject
                {
                    ["src"] = e.NatIp.ToString(),
                    ["sport"] = (int)e.NatPort,
                    ["src_changed"] = e.NatIp != e.Original.Src,
                    ["port_changed"] = e.NatPort != e.Original.Key,
                };
            }
            else f["conntrack"] = null;
            flows.Add(f);
        }
        var others = new JsonArray();
        foreach (var e in r.Entries.Where(e => !used.Contains(e.Id))) others.Add(Entry(e, r.DumpTimeMs));
        var stats = new JsonObject();
        foreach (var (name, value) in r.Stats) stats[name] = value;
        return new JsonObject
        {
            ["scenario"] = r.Scenario,
            ["kernel"] = "actornat-simulate",
            ["iptables_backend"] = "actornat",
            ["flows"] = flows,
            ["other_entries"] = others,
            ["conntrack_stats_delta"] = stats,
            ["conntrack_count"] = r.Entries.Count,
            ["router_addrs"] = new JsonArray(r.Addresses.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            ["router_routes"] = new JsonArray(r.Routes.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            ["nat_rules"] = new JsonArray(r.Rules.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            ["snapshots"] = new JsonArray(r.Snapshots.Select(s => (JsonNode?)new JsonObject
            {
                ["label"] = s.Label,
                ["entries"] = new JsonArray(s.Entries.Select(e => (JsonNode?)Entry(e, s.TimeMs)).ToArray()),
            }).ToArray()),
            ["exec"] = new JsonArray(r.Exec.Select(x => (JsonNode?)new JsonObject
            {
                ["ns"] = x.Namespace,
                ["cmd"] = new JsonArray(x.Command.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray()),
                ["applied"] = x.Applied,
                ["stdout"] = x.Output,
            }).ToArray()),
        };
    }

    public static JsonObject Entry(in ConntrackEntry e, long nowMs)
    {
        var flags = new JsonArray();
        if (!e.State.Replied) flags.Add("UNREPLIED");
        if (e.State.Assured) flags.Add("ASSURED");
        var o = new JsonObject
        {
            ["proto"] = e.Original.Proto.Name(),
            ["protonum"] = (int)e.Original.Proto,
            ["flags"] = flags,
            ["timeout"] = e.State.RemainingSeconds(nowMs),
        };
        if (e.Original.Proto == Protocol.Tcp) o["state"] = e.State.Tcp.Name();
        o["mark"] = 0;
        o["use"] = 1;
        o["id"] = e.Id;
        o["original"] = Tuple(e.Original);
        o["reply"] = Tuple(e.Reply);
        o["raw"] = ConntrackFormatter.Format(e, nowMs, withId: true);
        return o;
    }

    private static JsonObject Tuple(in FiveTuple t) => t.Proto == Protocol.Icmp
        ? new JsonObject { ["src"] = t.Src.ToString(), ["dst"] = t.Dst.ToString(), ["type"] = (int)t.IcmpType, ["code"] = (int)t.IcmpCode, ["id"] = (int)t.IcmpId }
        : new JsonObject { ["src"] = t.Src.ToString(), ["dst"] = t.Dst.ToString(), ["sport"] = (int)t.SPort, ["dport"] = (int)t.DPort };

    public static string Serialize(JsonNode node, bool pretty) =>
        node.ToJsonString(new JsonSerializerOptions { WriteIndented = pretty });
}
