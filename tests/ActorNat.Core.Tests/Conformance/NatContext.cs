using System.Text.Json;
using static ActorNat.Core.Tests.Conformance.FlowTuples;
using static ActorNat.Core.Tests.Conformance.PyJson;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>An address of a router device (<c>ip -4 -o addr show</c>).</summary>
internal readonly record struct DevAddr(string Ip, IpNet Net, bool Secondary);

/// <summary>The allowed range of a flow's NAT port, whether the rule draws at random, and whether the rule was certain.</summary>
internal readonly record struct AllowedRange(PortRange Range, bool Random, bool Certain);

/// <summary>
/// The router at the end of the run (rules, routes, addresses) and what follows from it per flow: the matched
/// POSTROUTING rule and the allowed port range (compare's <c>Context</c>).
/// </summary>
internal sealed class NatContext(RuleSet? rules, RouteTable? routes, Dictionary<string, List<DevAddr>>? addrs, string source)
{
    private readonly Dictionary<string, Decision> _cache = [];

    public RuleSet? Rules { get; } = rules;
    public RouteTable? Routes { get; } = routes;
    public Dictionary<string, List<DevAddr>>? Addrs { get; } = addrs;
    public string Source { get; } = source;
    public List<string> Notes { get; } = [];

    /// <summary>The NAT decision for a flow (an object with proto, src, dst, sport|id, dport).</summary>
    public Decision Decide(JsonElement f)
    {
        if (Rules is null) return new("uncertain", null);
        var key = string.Join("|", Key(Get(f, "proto")), Key(Get(f, "src")), Key(Get(f, "dst")), Key(FlowPort(f)), Key(Get(f, "dport")));
        if (_cache.TryGetValue(key, out var cached)) return cached;
        var proto = StrOr(f, "proto", "").ToLowerInvariant();
        var icmp = IsIcmp(proto);
        var pkt = new RulePacket(proto, AsString(Get(f, "src")), AsString(Get(f, "dst")),
            icmp ? null : Num(Get(f, "sport")), icmp ? null : Num(Get(f, "dport")),
            Routes?.OutDev(AsString(Get(f, "src"))), Routes?.OutDev(AsString(Get(f, "dst"))));
        var d = Rules.Evaluate(pkt);
        if (Rules.UncertainSource is not null && d.Kind != "uncertain") d = new("uncertain", d.Rule);
        if (Routes is { Uncertain: true } && d.Kind != "uncertain" &&
            Rules.NatRules().Any(r => r.Matches.Any(m => m.Kind is "in" or "out")))
            d = new("uncertain", d.Rule);
        _cache[key] = d;
        return d;
    }

    /// <summary>The rule could not be determined: a NAT rule with the same <c>-p</c> whose port range contains the
    /// kernel's port gives the range, else the class range.</summary>
    public PortRange HeuristicRange(string proto, JsonElement oport, double? port)
    {
        if (Rules is not null && port is not null)
        {
            foreach (var r in Rules.NatRules())
            {
                if (r.ToPorts is not { } tp) continue;
                var protos = r.Matches.Where(m => m.Kind == "proto" && !m.Negated).Select(m => m.Value).ToList();
                var num = RuleSet.ProtoNum.TryGetValue(proto, out var n) ? n.ToString() : "None";
                if (protos.Count > 0 && protos[0] != proto && protos[0] != num) continue;
                if (tp.Lo <= port && port <= tp.Hi)
                    return new(tp.Lo, tp.Hi, $"inferred range {tp.Lo}-{tp.Hi} of {r.Label()}");
            }
        }
        return ClassRange(proto, oport);
    }

    /// <summary>
    /// The allowed range for a flow's NAT port. <paramref name="kernelPort"/>: the port the kernel chose (infers the
    /// range when the rule is uncertain, and with <paramref name="fallback"/> sanity-checks the derived range).
    /// </summary>
    public AllowedRange Allowed(JsonElement f, JsonElement oport, JsonElement kernelPort, bool fallback = true)
    {
        var proto = StrOr(f, "proto", "").ToLowerInvariant();
        var (kind, r) = Decide(f);
        var kp = IsNone(kernelPort) ? null : Num(kernelPort);
        PortRange rng;
        bool rnd;
        if (kind == "nat")
        {
            rng = r!.ToPorts is { } tp
                ? new(tp.Lo, tp.Hi, $"port range {tp.Lo}-{tp.Hi} of {r.Label()}")
                : ClassRange(proto, oport);
            rnd = r.IsRandom;
        }
        else if (kind is "accept" or "drop")
        {
            rng = ClassRange(proto, oport);
            rnd = false;
        }
        else
        {
            rng = HeuristicRange(proto, oport, kp);
            rnd = false;
            if (Rules is not null)
            {
                var same = Rules.NatRules().Where(x => !x.Matches.Any(m => m.Kind == "proto" && !m.Negated && m.Value != proto && m.Value != "all")).ToList();
                rnd = same.Count > 0 && same.All(x => x.IsRandom);
            }
            return new(rng, rnd, false);
        }
        if (fallback && !IsNone(kernelPort) && !rng.Contains(kp))
        {
            Notes.Add($"{proto} {Str(Get(f, "src"))} -> {Str(Get(f, "dst"))}: kernel port {Str(kernelPort)} lies outside the derived {rng.Description}; using inferred range");
            return new(HeuristicRange(proto, oport, kp), rnd, false);
        }
        return new(rng, rnd, true);
    }

    /// <summary>Rules, routes and addresses from an output's <c>nat_rules</c>, <c>router_routes</c>, <c>router_addrs</c>.</summary>
    public static NatContext FromOutput(JsonElement j)
    {
        var rules = Truthy(Get(j, "nat_rules")) ? RuleSet.FromIptablesS(Items(Get(j, "nat_rules")).Select(e => e.GetString()!)) : null;
        RouteTable? routes = null;
        if (Truthy(Get(j, "router_routes")))
        {
            routes = new RouteTable();
            foreach (var line in Items(Get(j, "router_routes"))) routes.AddLine(line.GetString()!);
        }
        var addrs = Truthy(Get(j, "router_addrs")) ? ParseRouterAddrs(Items(Get(j, "router_addrs")).Select(e => e.GetString()!)) : null;
        return new NatContext(rules, routes, addrs, "output JSON");
    }

    /// <summary>This context, completed by <paramref name="scenario"/> when rules or routes are missing (python
    /// <c>Context(ctx.rules or sc.rules, ctx.routes or sc.routes, ctx.addrs or sc.addrs, "scenario")</c>).</summary>
    public NatContext OrScenario(JsonElement? scenario)
    {
        if ((Rules is not null && Routes is not null) || scenario is null) return this;
        var sc = ScenarioContext.Build(scenario.Value);
        var ctx = new NatContext(Rules ?? sc.Rules, Routes ?? sc.Routes, Addrs is { Count: > 0 } ? Addrs : sc.Addrs, "scenario");
        ctx.Notes.AddRange(Notes);
        return ctx;
    }

    /// <summary><c>ip -4 -o addr show</c> lines -> device -> addresses (with the secondary flag).</summary>
    public static Dictionary<string, List<DevAddr>> ParseRouterAddrs(IEnumerable<string> lines)
    {
        var outp = new Dictionary<string, List<DevAddr>>();
        foreach (var line in lines)
        {
            var toks = line.Replace("\\", " ").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            int k = Array.IndexOf(toks, "inet");
            if (k < 0) continue;
            var dev = toks.Length > 1 ? toks[1] : "";
            if (k + 1 >= toks.Length) continue;
            (IpAddr Ip, int Prefix) itf;
            try { itf = IpNet.ParseInterface(toks[k + 1]); }
            catch (FormatException) { continue; }
            if (!outp.TryGetValue(dev, out var l)) outp[dev] = l = [];
            l.Add(new DevAddr(itf.Ip.ToString(), IpNet.Of(itf.Ip, itf.Prefix), toks.Contains("secondary")));
        }
        return outp;
    }
}
