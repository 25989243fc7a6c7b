using System.Globalization;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>One match of a rule: <c>-s</c>, <c>-d</c>, <c>-p</c>, <c>-i</c>, <c>-o</c>, ports, ICMP type.</summary>
internal readonly record struct RuleMatch(bool Negated, string Kind, string Value);

/// <summary>An iptables rule in <c>-S</c> syntax, parsed as compare's <c>Rule</c> does.</summary>
internal sealed class NatRule
{
    private static readonly HashSet<string> KnownMatches = ["tcp", "udp", "icmp", "comment", "multiport"];

    public NatRule(string chain, IReadOnlyList<string> tokens, string text)
    {
        Chain = chain;
        Tokens = tokens;
        Text = text;
        Parse(tokens);
    }

    public string Chain { get; }
    public string Text { get; }
    public IReadOnlyList<string> Tokens { get; }
    public List<RuleMatch> Matches { get; } = [];
    public string? Target { get; private set; }
    public bool Goto { get; private set; }
    public (long Lo, long Hi)? ToPorts { get; private set; }
    public (IpAddr Lo, IpAddr Hi)? ToAddrs { get; private set; }
    public bool Random { get; private set; }
    public bool Fully { get; private set; }
    public bool Persistent { get; private set; }
    /// <summary>Unknown match options: the rule may match or not.</summary>
    public List<string> Unknown { get; } = [];
    public List<string> UnknownTargetOptions { get; } = [];
    /// <summary>1-based position in its chain.</summary>
    public int Pos { get; set; }

    public bool IsRandom => Random || Fully;

    public string Label() => $"{Chain} rule {Pos} ({Text})";

    private void Parse(IReadOnlyList<string> toks)
    {
        int i = 0, n = toks.Count;
        bool neg = false;
        string Arg() => i + 1 < n ? toks[i + 1] : "";
        while (i < n)
        {
            var t = toks[i];
            if (t == "!") { neg = true; i++; continue; }
            var a = Arg();
            if (a == "!") { neg = true; i++; a = Arg(); }    // old syntax: -o ! eth0
            switch (t)
            {
                case "-s" or "--source" or "--src": Matches.Add(new(neg, "src", a)); i += 2; break;
                case "-d" or "--destination" or "--dst": Matches.Add(new(neg, "dst", a)); i += 2; break;
                case "-p" or "--protocol": Matches.Add(new(neg, "proto", a.ToLowerInvariant())); i += 2; break;
                case "-i" or "--in-interface": Matches.Add(new(neg, "in", a)); i += 2; break;
                case "-o" or "--out-interface": Matches.Add(new(neg, "out", a)); i += 2; break;
                case "--sport" or "--source-port": Matches.Add(new(neg, "sport", a)); i += 2; break;
                case "--dport" or "--destination-port": Matches.Add(new(neg, "dport", a)); i += 2; break;
                case "--sports" or "--source-ports": Matches.Add(new(neg, "sports", a)); i += 2; break;
                case "--dports" or "--destination-ports": Matches.Add(new(neg, "dports", a)); i += 2; break;
                case "--icmp-type": Matches.Add(new(neg, "icmp-type", a)); i += 2; break;
                case "-m" or "--match":
                    if (!KnownMatches.Contains(a)) Unknown.Add("-m " + a);
                    i += 2;
                    break;
                case "--comment": i += 2; break;
                case "-j" or "--jump" or "-g" or "--goto":
                    Target = a;
                    Goto = t is "-g" or "--goto";
                    i += 2;
                    break;
                case "--to-ports" or "--to-port": ToPorts = ParsePortRange(a); i += 2; break;
                case "--to-source" or "--to":
                    if (ToAddrs is null)
                    {
                        var (addrs, ports) = ParseToSource(a);
                        ToAddrs = addrs;
                        if (ports is not null) ToPorts = ports;
                    }
                    i += 2;
                    break;
                case "--random": Random = true; i++; break;
                case "--random-fully": Fully = true; i++; break;
                case "--persistent": Persistent = true; i++; break;
                default:
                    if (t.StartsWith('-'))
                    {
                        int j = i + 1;
                        while (j < n && !toks[j].StartsWith('-') && toks[j] != "!") j++;
                        var opt = string.Join(" ", toks.Skip(i).Take(j - i));
                        (Target is null ? Unknown : UnknownTargetOptions).Add(opt);
                        i = j;
                    }
                    else { Unknown.Add(t); i++; }
                    break;
            }
            neg = false;
        }
    }

    /// <summary><c>lo-hi</c>, <c>lo:hi</c> or a single port; null when empty.</summary>
    public static (long Lo, long Hi)? ParsePortRange(string s)
    {
        s = s.Trim();
        if (s.Length == 0) return null;
        string a, b;
        int k;
        if ((k = s.IndexOf('-')) >= 0) { a = s[..k]; b = s[(k + 1)..]; }
        else if ((k = s.IndexOf(':')) >= 0) { a = s[..k]; b = s[(k + 1)..]; }
        else a = b = s;
        long lo = PyInt(a), hi = PyInt(b);
        return (Math.Min(lo, hi), Math.Max(lo, hi));
    }

    /// <summary><c>A[-B][:p1[-p2]]</c>.</summary>
    public static ((IpAddr, IpAddr)? Addrs, (long, long)? Ports) ParseToSource(string s)
    {
        string addrs = s;
        (long, long)? ports = null;
        int k = s.IndexOf(':');
        if (k >= 0) { addrs = s[..k]; ports = ParsePortRange(s[(k + 1)..]); }
        (IpAddr, IpAddr)? range = null;
        if (addrs.Length > 0)
        {
            int d = addrs.IndexOf('-');
            var (a, b) = d >= 0 ? (addrs[..d], addrs[(d + 1)..]) : (addrs, addrs);
            range = (IpAddr.Parse(a), IpAddr.Parse(b));
        }
        return (range, ports);
    }

    /// <summary><c>--sport</c>/<c>--dports</c> syntax: comma list of <c>p</c> or <c>lo:hi</c> (open ends allowed).</summary>
    public static bool PortSpecMatch(string spec, double? port)
    {
        if (port is null) return false;
        foreach (var part in spec.Split(','))
        {
            long lo, hi;
            int k = part.IndexOf(':');
            if (k >= 0)
            {
                lo = k > 0 ? PyInt(part[..k]) : 0;
                hi = k < part.Length - 1 ? PyInt(part[(k + 1)..]) : 65535;
            }
            else lo = hi = PyInt(part);
            if (lo <= port && port <= hi) return true;
        }
        return false;
    }

    /// <summary>An interface pattern (<c>eth+</c> is a prefix); null when the device is unknown.</summary>
    public static bool? InterfaceMatch(string pattern, string? dev)
    {
        if (dev is null) return null;
        return pattern.EndsWith('+') ? dev.StartsWith(pattern[..^1], StringComparison.Ordinal) : dev == pattern;
    }

    private static long PyInt(string s) =>
        long.Parse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
}
