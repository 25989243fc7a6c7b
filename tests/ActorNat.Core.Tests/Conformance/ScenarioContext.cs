using System.Text.Json;
using System.Text.Json.Nodes;
using static ActorNat.Core.Tests.Conformance.PyJson;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>
/// What a scenario file says about the router at the END of the run: the static configuration plus the router's
/// <c>exec</c> actions (<c>ip addr add|del</c>, <c>ip route add|del|replace</c>, <c>iptables ...</c>); and the
/// scenario's flows after <c>count</c> expansion (compare's <c>context_from_scenario</c>, <c>expand_scenario_flows</c>).
/// </summary>
internal static class ScenarioContext
{
    private sealed record Itf(IpAddr Ip, IpNet Net);

    public static NatContext Build(JsonElement s)
    {
        var router = Has(s, "router") ? Str(Get(s, "router")) : "router";
        var cfg = Get(Get(s, "namespaces"), router);
        var ruleLines = Items(Get(cfg, "iptables")).Select(e => e.GetString()!).ToList();
        var routeLines = Items(Get(cfg, "routes")).Select(e => e.GetString()!).ToList();
        string? uncertain = Truthy(Get(cfg, "nft")) ? "scenario has a raw nft script" : null;
        var sysctl = Get(cfg, "sysctl");
        bool promote = new[] { "all", "default" }.Any(k =>
            StrOr(sysctl, $"net.ipv4.conf.{k}.promote_secondaries", "0") == "1");
        var devaddrs = new OrderedDictionary<string, List<Itf>>();      // insertion order, as python's dict
        List<Itf> Dev(string d) => devaddrs.TryGetValue(d, out var l) ? l : devaddrs[d] = [];
        foreach (var li in Items(Get(s, "links")))
            foreach (var end in new[] { Get(li, "a"), Get(li, "b") })
                if (Str(Get(end, "ns")) == router && !IsNone(Get(end, "ns")))
                    Dev(Get(end, "dev").GetString()!).AddRange(Items(Get(end, "addrs")).Select(a => ParseItf(a.GetString()!)));
        foreach (var d in Items(Get(cfg, "dummies")))
            Dev(Get(d, "dev").GetString()!).AddRange(Items(Get(d, "addrs")).Select(a => ParseItf(a.GetString()!)));

        foreach (var f in Items(Get(s, "flows")))
        {
            if (Str(Get(f, "action")) != "exec" || IsNone(Get(f, "action"))) continue;
            if ((Has(f, "ns") ? Str(Get(f, "ns")) : router) != router) continue;
            var cmd = Items(Get(f, "cmd")).Select(Str).ToList();
            var words = cmd.Skip(1).Where(w => !w.StartsWith('-')).ToList();
            try
            {
                if (cmd.Count > 0 && cmd[0] == "ip" && words.Count > 0 && words[0] is "addr" or "address" or "a"
                    && At(words, 1) is "add" or "del" or "delete" && words.Contains("dev"))
                    ApplyAddr(words, Dev, devaddrs, promote);
                else if (cmd.Count > 0 && cmd[0] == "ip" && words.Count > 0 && words[0] is "route" or "r"
                         && At(words, 1) is "add" or "append" or "replace" or "del" or "delete")
                    ApplyRoute(cmd, words, routeLines);
                else if (cmd.Count > 0 && cmd[0].StartsWith("iptables", StringComparison.Ordinal))
                    ruleLines.Add(Shlex.Join(cmd));
                else if (new[] { "iptables", "nft ", "ip addr", "ip a ", "ip address", "ip route", "ip r ", "ip link", "ip -" }
                         .Any(w => string.Join(" ", cmd).Contains(w, StringComparison.Ordinal)))
                    uncertain ??= "exec in the router: " + string.Join(" ", cmd);   // may change rules/addresses/routes
            }
            catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException or InvalidOperationException)
            {
                uncertain ??= "cannot apply exec: " + string.Join(" ", cmd);
            }
        }

        var rules = RuleSet.FromScenarioLines(ruleLines);
        if (uncertain is not null) rules.UncertainSource ??= uncertain;
        var conn = new RouteTable();
        var addrInfo = new Dictionary<string, List<DevAddr>>();
        foreach (var (dev, lst) in devaddrs)
            for (int k = 0; k < lst.Count; k++)
            {
                var sec = IsSecondary(lst, k);
                if (!addrInfo.TryGetValue(dev, out var ai)) addrInfo[dev] = ai = [];
                ai.Add(new DevAddr(lst[k].Ip.ToString(), lst[k].Net, sec));
                if (!sec && lst[k].Net.Prefix < 32) conn.AddLine($"{lst[k].Net} dev {dev}");
            }
        var routes = new RouteTable { Routes = [.. conn.Routes] };
        foreach (var line in routeLines) routes.AddLine(line, conn);
        for (int k = 0; k < routes.Routes.Count; k++) routes.Routes[k].Order = k;
        return new NatContext(rules, routes, addrInfo, "scenario");
    }

    private static string? At(List<string> l, int i) => i < l.Count ? l[i] : throw new ArgumentOutOfRangeException(nameof(i));

    private static Itf ParseItf(string s)
    {
        var (ip, prefix) = IpNet.ParseInterface(s);
        return new Itf(ip, IpNet.Of(ip, prefix));
    }

    private static bool IsSecondary(List<Itf> lst, int k) => Enumerable.Range(0, k).Any(j => lst[j].Net == lst[k].Net);

    private static void ApplyAddr(List<string> words, Func<string, List<Itf>> dev,
        OrderedDictionary<string, List<Itf>> devaddrs, bool promote)
    {
        var itf = ParseItf(words[2]);
        var name = words[words.IndexOf("dev") + 1];
        var lst = dev(name);
        if (words[1] == "add") { lst.Add(itf); return; }
        int k = lst.FindIndex(a => a.Ip == itf.Ip);
        if (k < 0) throw new InvalidOperationException("no such address");
        if (!IsSecondary(lst, k) && !promote)
        {
            // deleting a primary address without promote_secondaries removes its secondaries too
            var net = lst[k].Net;
            lst = devaddrs[name] = lst.Where((a, j) => j == k || !(j > k && a.Net == net)).ToList();
        }
        lst.RemoveAt(k);
    }

    private static void ApplyRoute(List<string> cmd, List<string> words, List<string> routeLines)
    {
        var spec = Shlex.Join(cmd.Skip(cmd.IndexOf(words[1]) + 1));
        if (words[1] is "del" or "delete" or "replace")
        {
            var t = new RouteTable();
            t.AddLine(spec);
            if (t.Routes.Count > 0)
            {
                var tr = t.Routes[0];
                for (int j = 0; j < routeLines.Count; j++)
                {
                    var u = new RouteTable();
                    u.AddLine(routeLines[j]);
                    if (u.Routes.Count > 0 && u.Routes[0].Net == tr.Net && u.Routes[0].Metric == tr.Metric)
                    {
                        routeLines.RemoveAt(j);
                        break;
                    }
                }
            }
        }
        if (words[1] is not ("del" or "delete")) routeLines.Add(spec);
    }

    /// <summary>The scenario's flows after <c>count</c>/<c>sport_step</c> expansion (actions dropped).</summary>
    public static List<JsonElement> ExpandFlows(JsonElement s)
    {
        var outp = new List<JsonElement>();
        foreach (var f in Items(Get(s, "flows")))
        {
            if (Truthy(Get(f, "action"))) continue;
            long cnt = Has(f, "count") ? Int(Get(f, "count"), 0) : 1;
            long step = Has(f, "sport_step") ? Int(Get(f, "sport_step"), 0) : 1;
            var baseV = Int(Has(f, "sport") ? Get(f, "sport") : Get(f, "id"), 0);
            for (long j = 0; j < cnt; j++)
            {
                var g = JsonNode.Parse(f.GetRawText())!.AsObject();
                var proto = StrOr(f, "proto", "").ToLowerInvariant();
                g["proto"] = proto;
                long p = baseV != 0 ? baseV + j * step : 0;
                g[FlowTuples.IsIcmp(proto) ? "id" : "sport"] = p;
                outp.Add(JsonSerializer.SerializeToElement(g));
            }
        }
        return outp;
    }
}
