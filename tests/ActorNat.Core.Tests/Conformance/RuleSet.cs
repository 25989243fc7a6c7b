namespace ActorNat.Core.Tests.Conformance;

/// <summary>What a packet looks like to the POSTROUTING nat chain.</summary>
internal sealed record RulePacket(string Proto, string? Src, string? Dst, double? Sport, double? Dport, string? In, string? Out);

/// <summary>The chain's verdict: <c>nat</c>, <c>accept</c>, <c>drop</c>, <c>return</c> or <c>uncertain</c>, and the rule.</summary>
internal readonly record struct Decision(string Kind, NatRule? Rule);

/// <summary>The router's nat table: chains built from <c>iptables -S</c> or scenario lines, and their evaluation.</summary>
internal sealed class RuleSet
{
    public static readonly HashSet<string> NatTargets = ["MASQUERADE", "SNAT"];
    public static readonly Dictionary<string, int> ProtoNum =
        new() { ["tcp"] = 6, ["udp"] = 17, ["icmp"] = 1, ["sctp"] = 132, ["dccp"] = 33, ["gre"] = 47 };
    private static readonly HashSet<string> Builtin = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"];
    private static readonly HashSet<string?> NonTerminal =
        [null, "LOG", "MARK", "CONNMARK", "NFLOG", "TRACE", "CLASSIFY", "TOS", "DSCP", "TTL"];

    /// <summary>Chains in insertion order (the order compare iterates them in).</summary>
    public OrderedDictionary<string, List<NatRule>> Chains { get; } = new() { ["POSTROUTING"] = [] };

    /// <summary>Why every decision must be "uncertain" (a raw nft script, an unmodelled command), else null.</summary>
    public string? UncertainSource { get; set; }

    public int Count { get; private set; }

    public static RuleSet FromIptablesS(IEnumerable<string> lines)
    {
        var rs = new RuleSet();
        foreach (var line in lines)
        {
            var toks = Shlex.Split(line);
            if (toks.Count == 0) continue;
            if (toks[0] == "-N" && toks.Count > 1) rs.Chains.TryAdd(toks[1], []);
            else if (toks[0] == "-A" && toks.Count > 1) rs.Append(toks[1], toks[2..], line);
        }
        return rs;
    }

    public static RuleSet FromScenarioLines(IEnumerable<string> lines)
    {
        var rs = new RuleSet();
        foreach (var line in lines)
        {
            var toks = Shlex.Split(line);
            if (toks.Count > 0 && toks[0].StartsWith("iptables", StringComparison.Ordinal)) toks = toks[1..];
            var table = "filter";
            var rest = new List<string>();
            for (int i = 0; i < toks.Count; i++)
            {
                if (toks[i] is "-t" or "--table" && i + 1 < toks.Count) { table = toks[++i]; continue; }
                rest.Add(toks[i]);
            }
            if (table != "nat" || rest.Count == 0) continue;
            var op = rest[0];
            if (op is "-N" or "--new-chain" && rest.Count > 1) rs.Chains.TryAdd(rest[1], []);
            else if (op is "-A" or "--append" && rest.Count > 1) rs.Append(rest[1], rest[2..], line);
            else if (op is "-I" or "--insert" && rest.Count > 1)
            {
                var body = rest[2..];
                int pos = 1;
                if (body.Count > 0 && PyJson.IsDigits(body[0])) { pos = int.Parse(body[0]); body = body[1..]; }
                rs.Append(rest[1], body, line, pos);
            }
            else if (op is "-D" or "--delete" && rest.Count > 1)
            {
                var body = rest[2..];
                var lst = rs.Chains.TryGetValue(rest[1], out var l) ? l : [];
                int idx = body.Count == 1 && PyJson.IsDigits(body[0])
                    ? int.Parse(body[0]) - 1
                    : lst.FindIndex(r => r.Tokens.SequenceEqual(body));
                if (idx >= 0 && idx < lst.Count)
                {
                    lst.RemoveAt(idx);
                    Renumber(lst);
                }
                else rs.UncertainSource = "cannot apply: " + line;
            }
            else if (op is "-F" or "--flush")
            {
                if (rest.Count > 1 && !rest[1].StartsWith('-')) rs.Chains[rest[1]] = [];
                else foreach (var c in rs.Chains.Keys.ToList()) rs.Chains[c] = [];
            }
            else if (op is "-P" or "--policy")
            {
                if (rest.Count > 2 && rest[1] == "POSTROUTING" && rest[2] != "ACCEPT")
                    rs.UncertainSource = "POSTROUTING policy " + rest[2];
            }
            else rs.UncertainSource = "unsupported iptables command: " + line;
        }
        return rs;
    }

    public void Append(string chain, IReadOnlyList<string> toks, string text, int? pos = null)
    {
        var r = new NatRule(chain, toks, text);
        if (!Chains.TryGetValue(chain, out var lst)) Chains[chain] = lst = [];
        if (pos is null) lst.Add(r);
        else lst.Insert(Math.Min(Math.Max(0, pos.Value - 1), lst.Count), r);
        Renumber(lst);
        Count++;
    }

    private static void Renumber(List<NatRule> lst)
    {
        for (int k = 0; k < lst.Count; k++) lst[k].Pos = k + 1;
    }

    /// <summary>All MASQUERADE/SNAT rules, chain by chain.</summary>
    public IEnumerable<NatRule> NatRules() => Chains.Values.SelectMany(c => c).Where(r => r.Target is not null && NatTargets.Contains(r.Target));

    /// <summary>True / false, or null when an interface could not be resolved or an address not parsed.</summary>
    private static bool? MatchKnown(NatRule r, RulePacket pkt)
    {
        bool? result = true;
        foreach (var (neg, kind, val) in r.Matches)
        {
            bool m;
            switch (kind)
            {
                case "src" or "dst":
                    try { m = IpNet.Parse(val).Contains(IpAddr.Parse(kind == "src" ? pkt.Src : pkt.Dst)); }
                    catch (FormatException) { return null; }
                    break;
                case "proto":
                    if (val is "all" or "0") m = true;
                    else
                    {
                        int? num = ProtoNum.TryGetValue(pkt.Proto, out var nn) ? nn : null;
                        m = val == pkt.Proto || (PyJson.IsDigits(val) && num == long.Parse(val));
                    }
                    break;
                case "in" or "out":
                    var im = NatRule.InterfaceMatch(val, kind == "in" ? pkt.In : pkt.Out);
                    if (im is null) { result = null; continue; }
                    m = im.Value;
                    break;
                case "sport" or "dport" or "sports" or "dports":
                    m = !FlowTuples.IsIcmp(pkt.Proto) &&
                        NatRule.PortSpecMatch(val, kind.StartsWith('s') ? pkt.Sport : pkt.Dport);
                    break;
                case "icmp-type":
                    m = FlowTuples.IsIcmp(pkt.Proto) && val.Split('/')[0] is "echo-request" or "8" or "any" or "ping";
                    break;
                default:
                    return null;
            }
            if (neg) m = !m;
            if (!m) return false;
        }
        return result;
    }

    public Decision Evaluate(RulePacket pkt, string chain = "POSTROUTING", int depth = 0)
    {
        if (depth > 16) return new("uncertain", null);
        foreach (var r in Chains.TryGetValue(chain, out var lst) ? lst : [])
        {
            var m = MatchKnown(r, pkt);
            if (m == false) continue;
            if (m is null || r.Unknown.Count > 0) return new("uncertain", r);
            var t = r.Target;
            if (t is not null && NatTargets.Contains(t))
                return r.UnknownTargetOptions.Count > 0 ? new("uncertain", r) : new("nat", r);
            if (t == "ACCEPT") return new("accept", r);
            if (t is "DROP" or "REJECT") return new("drop", r);
            if (t == "RETURN") return Builtin.Contains(chain) ? new("accept", null) : new("return", r);
            if (t is not null && Chains.ContainsKey(t) && !Builtin.Contains(t))
            {
                var sub = Evaluate(pkt, t, depth + 1);
                if (sub.Kind == "return")
                {
                    if (r.Goto) return !Builtin.Contains(chain) ? new("return", sub.Rule) : new("accept", null);
                    continue;
                }
                return sub;
            }
            if (NonTerminal.Contains(t)) continue;       // no NAT effect
            return new("uncertain", r);                  // NETMAP, CT, unknown targets ...
        }
        return Builtin.Contains(chain) ? new("accept", null) : new("return", null);
    }
}
