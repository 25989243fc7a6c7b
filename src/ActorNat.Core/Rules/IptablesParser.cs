using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Rules;

/// <summary>
/// Reads `iptables -t nat -A|-I|-D|-F|-N|-X CHAIN …` in the syntax iptables accepts. Every error names the word that
/// is wrong. Only the nat table's POSTROUTING chain and the user chains it jumps to are ActorNat's business: other
/// tables and built-in chains are refused by name.
/// </summary>
public static class IptablesParser
{
    /// <summary>The nat table's built-in chains: only POSTROUTING is ActorNat's; the others are refused by name.</summary>
    public static readonly IReadOnlySet<string> BuiltinChains = new HashSet<string> { "PREROUTING", "INPUT", "OUTPUT", RuleSet.Postrouting };

    /// <summary>Targets iptables knows that ActorNat does not run (a name no user chain may take either).</summary>
    private static readonly IReadOnlySet<string> OtherTargets = new HashSet<string>
    {
        "DROP", "QUEUE", "DNAT", "REDIRECT", "NETMAP", "LOG", "MARK", "CONNMARK", "REJECT", "NFQUEUE", "CT", "TPROXY", "NFLOG", "TRACE",
    };

    public static RuleCommand Parse(string line) => Parse(CommandLine.Split(line));

    public static RuleCommand Parse(IReadOnlyList<string> words)
    {
        int i = 0;
        if (words.Count > 0 && (words[0] == "iptables" || words[0].EndsWith("/iptables", StringComparison.Ordinal))) i++;
        string? table = null;
        RuleAction? action = null;
        int? position = null;
        string? chainName = RuleSet.Postrouting;
        var modules = new HashSet<string>();
        var rule = new NatRule();
        bool haveTarget = false;
        bool negateNext = false;
        string? negToken = null;

        string Next(string option)
        {
            if (i + 1 >= words.Count) throw new ParseException($"option \"{option}\" requires an argument", option);
            return words[++i];
        }

        void NoNegation(string option)
        {
            if (negateNext) throw new ParseException($"cannot use \"!\" with {option}", option);
        }

        for (; i < words.Count; i++)
        {
            var w = words[i];
            if (w == "!")
            {
                if (negateNext) throw new ParseException("multiple \"!\" flags not allowed", w);
                negateNext = true;
                negToken = w;
                continue;
            }
            bool neg = negateNext;
            switch (w)
            {
                case "-t" or "--table":
                    NoNegation(w);
                    table = Next(w);
                    if (table != "nat") throw new ParseException($"table \"{table}\" is not supported: ActorNat manages the nat table only", table);
                    break;
                case "-A" or "--append" or "-I" or "--insert" or "-D" or "--delete" or "-F" or "--flush"
                    or "-N" or "--new-chain" or "-X" or "--delete-chain":
                {
                    NoNegation(w);
                    if (action is not null) throw new ParseException("only one command (-A, -I, -D, -F, -N, -X) is allowed", w);
                    action = w switch
                    {
                        "-A" or "--append" => RuleAction.Append,
                        "-I" or "--insert" => RuleAction.Insert,
                        "-D" or "--delete" => RuleAction.Delete,
                        "-N" or "--new-chain" => RuleAction.NewChain,
                        "-X" or "--delete-chain" => RuleAction.DeleteChain,
                        _ => RuleAction.Flush,
                    };
                    if (action is RuleAction.Flush or RuleAction.DeleteChain && (i + 1 >= words.Count || words[i + 1].StartsWith('-')))
                    {
                        chainName = null; // every chain
                        break;
                    }
                    var chain = Next(w);
                    if (action == RuleAction.NewChain) CheckNewChainName(chain);
                    else if (chain != RuleSet.Postrouting && BuiltinChains.Contains(chain))
                        throw new ParseException($"chain \"{chain}\" is not supported: ActorNat does source NAT in POSTROUTING", chain);
                    chainName = chain;
                    if (action is RuleAction.Insert or RuleAction.Delete && i + 1 < words.Count && int.TryParse(words[i + 1], out var n))
                    {
                        if (n < 1) throw new ParseException($"Invalid rule number `{words[i + 1]}'", words[i + 1]);
                        position = n;
                        i++;
                    }
                    break;
                }
                case "-s" or "--source" or "--src":
                    rule = rule with { Source = new(ParsePrefix(Next(w)), neg) };
                    break;
                case "-d" or "--destination" or "--dst":
                    rule = rule with { Destination = new(ParsePrefix(Next(w)), neg) };
                    break;
                case "-p" or "--protocol":
                {
                    var p = Next(w);
                    if (p is "all" or "0") { if (neg) throw new ParseException("rule would never match protocol", p); break; }
                    if (!ProtocolNames.TryParse(p, out var proto)) throw new ParseException($"unknown protocol \"{p}\" specified", p);
                    rule = rule with { Protocol = new(proto, neg) };
                    break;
                }
                case "-o" or "--out-interface":
                {
                    var o = Next(w);
                    // iptables refuses a name over 15 characters, and only warns about '/' and ' ' (it takes ':', tabs,
                    // newlines): ActorNat refuses every name the kernel could not give an interface.
                    if (o.Length > ToolSyntax.MaxInterfaceName)
                        throw new ParseException($"interface name `{o}' must be shorter than IFNAMSIZ ({ToolSyntax.MaxInterfaceName})", o);
                    var bad = ToolSyntax.InterfaceNameProblem(o.EndsWith('+') ? o[..^1] + "x" : o);
                    if (bad is not null) throw new ParseException($"invalid interface name \"{o}\": {bad}", o);
                    rule = rule with { OutInterface = new(o, neg) };
                    break;
                }
                case "-i" or "--in-interface":
                    throw new ParseException("Can't use -i with POSTROUTING", w);
                case "-m" or "--match":
                {
                    NoNegation(w);
                    var m = Next(w);
                    if (m is not ("tcp" or "udp" or "icmp" or "multiport" or "comment"))
                        throw new ParseException($"match \"{m}\" is not supported (supported: tcp, udp, icmp, multiport, comment)", m);
                    modules.Add(m);
                    break;
                }
                case "--sports" or "--source-ports" or "--dports" or "--destination-ports" or "--ports" when modules.Contains("multiport"):
                {
                    if (rule.Multiport is not null) throw new ParseException("multiport can only have one option", w);
                    var kind = w switch
                    {
                        "--sports" or "--source-ports" => MultiportKind.Source,
                        "--dports" or "--destination-ports" => MultiportKind.Destination,
                        _ => MultiportKind.Either,
                    };
                    rule = rule with { Multiport = new(PortList.Parse(Next(w)), neg), MultiportKind = kind };
                    break;
                }
                case "--icmp-type" when rule.Protocol is { Negated: false, Value: Protocol.Icmp } || modules.Contains("icmp"):
                    rule = rule with { IcmpType = new(IcmpTypeMatch.Parse(Next(w)), neg) };
                    break;
                case "--comment" when modules.Contains("comment"):
                {
                    NoNegation(w);
                    var text = Next(w);
                    if (text.Length > 255) throw new ParseException("COMMENT must be shorter than 256 characters", w);
                    rule = rule with { Comment = text };
                    break;
                }
                case "--sport" or "--source-port" or "--dport" or "--destination-port":
                {
                    var v = Next(w);
                    if (rule.Protocol is not { Negated: false, Value: Protocol.Tcp or Protocol.Udp })
                        throw new ParseException($"{w} needs -p tcp or -p udp before it", w);
                    var r = ToolSyntax.MatchPorts(v, v);
                    rule = w is "--sport" or "--source-port"
                        ? rule with { SourcePort = new(r, neg) }
                        : rule with { DestinationPort = new(r, neg) };
                    break;
                }
                case "-j" or "--jump" or "-g" or "--goto":
                {
                    NoNegation(w);
                    if (haveTarget) throw new ParseException("multiple -j or -g flags not allowed", w);
                    var t = Next(w);
                    bool jump = w is "-j" or "--jump";
                    rule = rule with
                    {
                        Target = t switch
                        {
                            "MASQUERADE" when jump => RuleTarget.Masquerade,
                            "SNAT" when jump => RuleTarget.Snat,
                            "ACCEPT" when jump => RuleTarget.Accept,
                            "RETURN" when jump => RuleTarget.Return,
                            _ when OtherTargets.Contains(t) || BuiltinChains.Contains(t) || !jump && t is "MASQUERADE" or "SNAT" or "ACCEPT" or "RETURN" =>
                                throw new ParseException($"target \"{t}\" is not supported (supported: MASQUERADE, SNAT, ACCEPT, RETURN, a user chain)", t),
                            _ => RuleTarget.Chain,
                        },
                        ChainTarget = t, Goto = !jump,
                    };
                    if (rule.Target != RuleTarget.Chain) rule = rule with { ChainTarget = null };
                    else CheckChainName(t, t);
                    haveTarget = true;
                    break;
                }
                case "--to-ports":
                {
                    NoNegation(w);
                    RequireTarget(haveTarget, rule, RuleTarget.Masquerade, w);
                    var v = Next(w);
                    var r = ToolSyntax.NatPorts(v, v);
                    // iptables takes port 0; ActorNat refuses it (no connection can be given port 0).
                    if (r.Min == 0) throw new ParseException($"invalid port range \"{v}\": port 0 cannot be allocated", v);
                    rule = rule with { Ports = r };
                    break;
                }
                case "--to-source" or "--to":
                {
                    NoNegation(w);
                    RequireTarget(haveTarget, rule, RuleTarget.Snat, w);
                    rule = ParseToSource(rule, Next(w));
                    break;
                }
                case "--random":
                    NoNegation(w);
                    RequireNatTarget(haveTarget, rule, w);
                    rule = rule with { Random = true };
                    break;
                case "--random-fully":
                    NoNegation(w);
                    RequireNatTarget(haveTarget, rule, w);
                    rule = rule with { RandomFully = true };
                    break;
                case "--persistent":
                    NoNegation(w);
                    RequireTarget(haveTarget, rule, RuleTarget.Snat, w);
                    rule = rule with { Persistent = true };
                    break;
                default:
                    throw new ParseException($"unknown option \"{w}\"", w);
            }
            negateNext = false;
        }
        if (negateNext) throw new ParseException("\"!\" must be followed by an option", negToken!);
        if (table is null) throw new ParseException("missing \"-t nat\": ActorNat manages the nat table only", words.Count > 0 ? words[0] : "");
        if (action is null) throw new ParseException("no command given: use -A, -I, -D or -F", words.Count > 0 ? words[^1] : "");

        if (action is RuleAction.Flush or RuleAction.NewChain or RuleAction.DeleteChain)
        {
            if (haveTarget) throw new ParseException($"{action switch { RuleAction.Flush => "-F", RuleAction.NewChain => "-N", _ => "-X" }} takes a chain, not a rule", words[^1]);
            return new RuleCommand(action.Value, null, null, chainName);
        }
        if (action == RuleAction.Delete && position is not null)
        {
            if (haveTarget) throw new ParseException("-D takes a rule number or a rule, not both", position.ToString()!);
            return new RuleCommand(RuleAction.Delete, null, position, chainName);
        }
        if (rule.Multiport is not null && rule.Protocol is not { Negated: false, Value: Protocol.Tcp or Protocol.Udp })
            throw new ParseException("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'", "multiport");
        if (!haveTarget) rule = rule with { Target = RuleTarget.None }; // matches and goes on (iptables takes it)
        if (rule.Ports is not null && rule.Target == RuleTarget.Masquerade
            && rule.Protocol is not { Negated: false, Value: Protocol.Tcp or Protocol.Udp })
            throw new ParseException("Need TCP, UDP, SCTP or DCCP with port specification", "--to-ports");
        if (rule.Ports is not null && rule.Target == RuleTarget.Snat && rule.Protocol is not { Negated: false })
            throw new ParseException("Need TCP, UDP, SCTP or DCCP with port specification", "--to-source");
        if (rule.Target == RuleTarget.Snat && rule.ToSourceMin == default)
            throw new ParseException("SNAT needs --to-source", "SNAT");
        return new RuleCommand(action.Value, rule, position, chainName);
    }

    /// <summary>`-N NAME`: iptables' rules for a chain's name.</summary>
    private static void CheckNewChainName(string name)
    {
        if (name is "ACCEPT" or "DROP" or "QUEUE" or "RETURN") throw new ParseException("chain name may not clash with target name", name);
        CheckChainName(name, name);
    }

    private static void CheckChainName(string name, string token)
    {
        if (name.Length >= 29) throw new ParseException($"chain name `{name}' too long (must be under 29 chars)", token);
        if (name.Length == 0 || name.StartsWith('-') || name.StartsWith('!'))
            throw new ParseException($"chain name not allowed to start with `{(name.Length == 0 ? "" : name[..1])}'", token);
        if (name.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))) throw new ParseException($"Invalid chain name `{name}'", token);
    }

    private static void RequireTarget(bool haveTarget, NatRule rule, RuleTarget target, string option)
    {
        if (!haveTarget || rule.Target != target)
            throw new ParseException($"unknown option \"{option}\" (it belongs to -j {target.ToString().ToUpperInvariant()})", option);
    }

    private static void RequireNatTarget(bool haveTarget, NatRule rule, string option)
    {
        if (!haveTarget || rule.Target is not (RuleTarget.Masquerade or RuleTarget.Snat))
            throw new ParseException($"unknown option \"{option}\" (it belongs to -j MASQUERADE or -j SNAT)", option);
    }

    /// <summary>`-s`/`-d`: as xtables reads them (octal/hex parts, "10.1" = 10.1.0.0, mask in base 0).</summary>
    private static Prefix ParsePrefix(string text)
    {
        var slash = text.IndexOf('/');
        if (!IPv4.TryParseTool(slash < 0 ? text : text.AsSpan(0, slash), out _))
            throw new ParseException($"host/network `{(slash < 0 ? text : text[..slash])}' not found", text);
        if (slash >= 0 && !ToolSyntax.TryParseMask(text.AsSpan(slash + 1), out _))
            throw new ParseException($"invalid mask `{text[(slash + 1)..]}' specified", text);
        ToolSyntax.TryParsePrefix(text, out var p);
        return p;
    }

    /// <summary>`A[-B][:p1[-p2]]`.</summary>
    private static NatRule ParseToSource(NatRule rule, string text)
    {
        var colon = text.IndexOf(':');
        var ips = colon < 0 ? text : text[..colon];
        var dash = ips.IndexOf('-');
        // libipt_SNAT reads these strictly (inet_pton: "010.0.0.1" is a "Bad IP address").
        var first = dash < 0 ? ips : ips[..dash];
        if (!IPv4.TryParseStrict(first, out var min)) throw new ParseException($"Bad IP address \"{first}\"", text);
        var max = min;
        if (dash >= 0 && !IPv4.TryParseStrict(ips.AsSpan(dash + 1), out max)) throw new ParseException($"Bad IP address \"{ips.AsSpan(dash + 1)}\"", text);
        // iptables takes a reversed range; ActorNat refuses it (the kernel's distance would wrap around).
        if (max.Value < min.Value) throw new ParseException($"bad IP address range \"{text}\": the first address is above the last", text);
        rule = rule with { ToSourceMin = min, ToSourceMax = max };
        if (colon >= 0)
        {
            var r = ToolSyntax.NatPorts(text[(colon + 1)..], text);
            rule = rule with { Ports = r };
        }
        return rule;
    }
}
