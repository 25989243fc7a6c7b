using System.Text.Json.Nodes;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>Seeded random damage to an oracle/simulate output, for differential tests of the two comparators.</summary>
public static class OutputMutator
{
    private static readonly string[] Ips = ["10.0.2.15", "10.0.2.16", "203.0.113.56", "203.0.113.60", "203.0.113.99", "172.18.0.2"];
    private static readonly string?[] States = [null, "ESTABLISHED", "SYN_SENT", "TIME_WAIT", "CLOSE", "NONE"];

    /// <summary>Applies 1-3 random mutations; returns what was done.</summary>
    public static List<string> Mutate(JsonNode j, Random rnd)
    {
        var done = new List<string>();
        int n = rnd.Next(1, 4);
        for (int k = 0; k < n; k++) done.Add(MutateOnce(j, rnd));
        return done;
    }

    private static string MutateOnce(JsonNode j, Random rnd)
    {
        var flows = j["flows"]!.AsArray();
        var live = Enumerable.Range(0, flows.Count).Where(i => flows[i]!["conntrack"] is JsonObject).ToList();
        if (live.Count == 0) return "none (no live flow)";
        int fi = live[rnd.Next(live.Count)];
        var f = flows[fi]!;
        var ct = f["conntrack"]!;
        bool icmp = (string?)ct["proto"] == "icmp";
        string portKey = icmp ? "id" : "dport";
        int kind = rnd.Next(16);
        switch (kind)
        {
            case 0:
            {
                int p = rnd.Next(3) switch { 0 => rnd.Next(0, 65536), 1 => rnd.Next(1, 1024), _ => 55666 + rnd.Next(-3, 18) };
                SetNatPort(f, p);
                return $"flow {fi}: nat port {p}";
            }
            case 1:
                SetNatPort(f, (int)ct["original"]![icmp ? "id" : "sport"]!);
                return $"flow {fi}: nat port kept";
            case 2:
            {
                var ip = Ips[rnd.Next(Ips.Length)];
                ct["reply"]!["dst"] = ip;
                f["nat"]!["src"] = ip;
                f["nat"]!["src_changed"] = ip != (string?)ct["original"]!["src"];
                return $"flow {fi}: nat ip {ip}";
            }
            case 3:
            {
                var s = States[rnd.Next(States.Length)];
                if (s is null) ct.AsObject().Remove("state"); else ct["state"] = s;
                return $"flow {fi}: state {s}";
            }
            case 4:
            {
                var fl = new JsonArray();
                if (rnd.Next(2) == 0) fl.Add("UNREPLIED");
                if (rnd.Next(2) == 0) fl.Add("ASSURED");
                ct["flags"] = fl;
                return $"flow {fi}: flags {fl.ToJsonString()}";
            }
            case 5:
            {
                int d = rnd.Next(-30, 31);
                ct["timeout"] = (int)ct["timeout"]! + d;
                return $"flow {fi}: timeout {d:+0;-0}";
            }
            case 6:
                f["conntrack"] = null;
                f["nat"] = null;
                return $"flow {fi}: entry nulled";
            case 7:
                if (rnd.Next(2) == 0) { f.AsObject().Remove("nat"); return $"flow {fi}: nat{{}} removed"; }
                f["nat"]!["port_changed"] = !(bool)f["nat"]!["port_changed"]!;
                return $"flow {fi}: nat.port_changed flipped";
            case 8:
                ct["reply"]![icmp ? "type" : "sport"] = icmp ? 3 : 8080;
                return $"flow {fi}: reply peer";
            case 9:
            {
                int other = live[rnd.Next(live.Count)];
                f["conntrack"] = flows[other]!["conntrack"]!.DeepClone();
                f["nat"] = flows[other]!["nat"]?.DeepClone();
                return $"flow {fi}: entry of flow {other}";
            }
            case 10:
                f["label"] = "x" + rnd.Next(100);
                return $"flow {fi}: label";
            case 11:
                ct["original"]![icmp ? "id" : "dport"] = 54;
                return $"flow {fi}: original tuple";
            case 12:
                if (rnd.Next(2) == 0) { flows.RemoveAt(flows.Count - 1); return "last flow removed"; }
                flows.Add(f.DeepClone());
                return $"flow {fi} appended again";
            case 13:
            {
                var other = flows[live[rnd.Next(live.Count)]]!;
                var oc = other["conntrack"]!;
                if ((string?)oc["proto"] != (string?)ct["proto"]) return "none (proto differs)";
                ct["reply"]!["dst"] = (string?)oc["reply"]!["dst"];
                f["nat"]!["src"] = (string?)oc["reply"]!["dst"];
                f["nat"]!["src_changed"] = (string?)oc["reply"]!["dst"] != (string?)ct["original"]!["src"];
                SetNatPort(f, (int)oc["reply"]![portKey]!);
                return $"flow {fi}: reply tuple of another flow";
            }
            case 14:
            {
                var arr = j["other_entries"] as JsonArray ?? (JsonArray)(j["other_entries"] = new JsonArray());
                var e = ct.DeepClone();
                if (rnd.Next(2) == 0) e["original"]![icmp ? "id" : "sport"] = 1;
                arr.Add(e);
                return $"other entry from flow {fi}";
            }
            default:
            {
                var keep = rnd.Next(2) == 0;
                j.AsObject().Remove(keep ? "router_addrs" : "nat_rules");
                return keep ? "router_addrs removed" : "nat_rules removed";
            }
        }
    }

    private static void SetNatPort(JsonNode f, int port)
    {
        var ct = f["conntrack"]!;
        bool icmp = (string?)ct["proto"] == "icmp";
        ct["reply"]![icmp ? "id" : "dport"] = port;
        if (f["nat"] is JsonObject nat)
        {
            nat["sport"] = port;
            nat["port_changed"] = port != (int)ct["original"]![icmp ? "id" : "sport"]!;
        }
    }
}
